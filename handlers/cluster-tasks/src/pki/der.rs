//! Just enough DER to read a CSR's structure and to write the certificate
//! that carries its subject and public key unchanged.

use time::{OffsetDateTime, UtcOffset};

pub const BOOLEAN: u8 = 0x01;
pub const INTEGER: u8 = 0x02;
pub const BIT_STRING: u8 = 0x03;
pub const OCTET_STRING: u8 = 0x04;
pub const OID: u8 = 0x06;
pub const UTC_TIME: u8 = 0x17;
pub const GENERALIZED_TIME: u8 = 0x18;
pub const SEQUENCE: u8 = 0x30;
/// `[0] IMPLICIT SET OF Attribute` of a `CertificationRequestInfo`.
pub const ATTRIBUTES: u8 = 0xa0;
const VERSION: u8 = 0xa0;
const EXTENSIONS: u8 = 0xa3;
const KEY_ID: u8 = 0x80;

/// `AlgorithmIdentifier` of sha256WithRSAEncryption, parameters NULL.
const SHA256_WITH_RSA: &[u8] = &[
    0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b, 0x05, 0x00,
];
/// id-ce-basicConstraints, id-ce-subjectKeyIdentifier, id-ce-authorityKeyIdentifier.
const BASIC_CONSTRAINTS: &[u8] = &[0x55, 0x1d, 0x13];
const SUBJECT_KEY_ID: &[u8] = &[0x55, 0x1d, 0x0e];
const AUTHORITY_KEY_ID: &[u8] = &[0x55, 0x1d, 0x23];

/// One DER element: all of it, and its content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Element<'a> {
    pub whole: &'a [u8],
    pub content: &'a [u8],
}

/// The element at the start of `input`, which must have `tag`, and what
/// follows it. Definite lengths only, as DER requires.
pub fn element(input: &[u8], tag: u8) -> Result<(Element<'_>, &[u8]), String> {
    let (&found, rest) = input
        .split_first()
        .ok_or_else(|| format!("an element with tag 0x{tag:02x} is missing"))?;
    if found != tag {
        return Err(format!("tag 0x{found:02x} where 0x{tag:02x} belongs"));
    }
    let (&first, rest) = rest
        .split_first()
        .ok_or_else(|| "a length is cut off".to_owned())?;
    let (length, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return Err("a length is indefinite or cut off".into());
        }
        let (bytes, rest) = rest.split_at(count);
        let length = bytes
            .iter()
            .fold(0usize, |length, b| (length << 8) | usize::from(*b));
        (length, rest)
    };
    if rest.len() < length {
        return Err(format!("an element with tag 0x{tag:02x} is cut off"));
    }
    let header = input.len() - rest.len();
    let (content, after) = rest.split_at(length);
    Ok((
        Element {
            whole: &input[..header + length],
            content,
        },
        after,
    ))
}

/// Tag, length and content.
pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let length = content.len();
    if let Ok(short @ 0..0x80) = u8::try_from(length) {
        out.push(short);
    } else {
        let bytes = length.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        let count = u8::try_from(bytes.len() - skip).unwrap_or(8);
        out.push(0x80 | count);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

/// What the cluster certificate is made of.
#[derive(Debug)]
pub struct TbsFields<'a> {
    /// The content of the serial number INTEGER, already positive and minimal.
    pub serial: &'a [u8],
    /// The CA's subject, a DER `Name`.
    pub issuer: &'a [u8],
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    /// The CSR's subject, a DER `Name`, copied as it is.
    pub subject: &'a [u8],
    /// The CSR's `SubjectPublicKeyInfo`, copied as it is.
    pub spki: &'a [u8],
    pub authority_key_id: Option<&'a [u8]>,
    pub subject_key_id: &'a [u8],
}

/// A v3 `TBSCertificate` signed with sha256WithRSAEncryption: not a CA
/// (basic constraints, critical), with subject and authority key ids.
pub fn tbs_certificate(fields: &TbsFields<'_>) -> Vec<u8> {
    let mut extensions = extension(BASIC_CONSTRAINTS, true, &tlv(SEQUENCE, &[]));
    extensions.extend(extension(
        SUBJECT_KEY_ID,
        false,
        &tlv(OCTET_STRING, fields.subject_key_id),
    ));
    if let Some(id) = fields.authority_key_id {
        extensions.extend(extension(
            AUTHORITY_KEY_ID,
            false,
            &tlv(SEQUENCE, &tlv(KEY_ID, id)),
        ));
    }
    let validity = [time(fields.not_before), time(fields.not_after)].concat();
    tlv(
        SEQUENCE,
        &[
            tlv(VERSION, &tlv(INTEGER, &[2])).as_slice(),
            &tlv(INTEGER, fields.serial),
            SHA256_WITH_RSA,
            fields.issuer,
            &tlv(SEQUENCE, &validity),
            fields.subject,
            fields.spki,
            &tlv(EXTENSIONS, &tlv(SEQUENCE, &extensions)),
        ]
        .concat(),
    )
}

/// The `Certificate`: the TBS part, its algorithm and its signature.
pub fn certificate(tbs: &[u8], signature: &[u8]) -> Vec<u8> {
    let mut bits = vec![0];
    bits.extend_from_slice(signature);
    tlv(
        SEQUENCE,
        &[tbs, SHA256_WITH_RSA, &tlv(BIT_STRING, &bits)].concat(),
    )
}

fn extension(oid: &[u8], critical: bool, value: &[u8]) -> Vec<u8> {
    let mut parts = tlv(OID, oid);
    if critical {
        parts.extend(tlv(BOOLEAN, &[0xff]));
    }
    parts.extend(tlv(OCTET_STRING, value));
    tlv(SEQUENCE, &parts)
}

/// `UTCTime` up to 2049, `GeneralizedTime` from 2050 on (RFC 5280 4.1.2.5).
fn time(at: OffsetDateTime) -> Vec<u8> {
    let at = at.to_offset(UtcOffset::UTC);
    let (year, month, day) = (at.year(), u8::from(at.month()), at.day());
    let (hour, minute, second) = (at.hour(), at.minute(), at.second());
    if (1950..2050).contains(&year) {
        let text = format!(
            "{:02}{month:02}{day:02}{hour:02}{minute:02}{second:02}Z",
            year % 100
        );
        tlv(UTC_TIME, text.as_bytes())
    } else {
        let text = format!("{year:04}{month:02}{day:02}{hour:02}{minute:02}{second:02}Z");
        tlv(GENERALIZED_TIME, text.as_bytes())
    }
}

/// PEM text with 64-character lines.
pub fn pem(label: &str, der: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut text = String::with_capacity(der.len() * 4 / 3 + 4);
    for chunk in der.chunks(3) {
        let bytes = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(bytes[0]) << 16) | (u32::from(bytes[1]) << 8) | u32::from(bytes[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                text.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 0x3f) as usize]));
            } else {
                text.push('=');
            }
        }
    }
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in text.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str("-----END ");
    out.push_str(label);
    out.push_str("-----\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_are_written_and_read_in_every_form() {
        for size in [0usize, 1, 127, 128, 255, 256, 70_000] {
            let content = vec![7u8; size];
            let encoded = tlv(OCTET_STRING, &content);
            let (read, rest) = element(&encoded, OCTET_STRING).unwrap();
            assert_eq!(read.content, content.as_slice());
            assert_eq!(read.whole, encoded.as_slice());
            assert!(rest.is_empty());
        }
        assert_eq!(tlv(INTEGER, &[2]), [0x02, 0x01, 0x02]);
        assert_eq!(&tlv(OCTET_STRING, &[0; 200])[..3], [0x04, 0x81, 200]);
    }

    #[test]
    fn malformed_elements_are_refused() {
        assert!(element(&[], SEQUENCE).is_err());
        assert!(element(&[0x31, 0x00], SEQUENCE).is_err());
        assert!(
            element(&[0x30, 0x80, 0x00, 0x00], SEQUENCE).is_err(),
            "indefinite"
        );
        assert!(element(&[0x30, 0x05, 0x01], SEQUENCE).is_err(), "cut off");
    }

    #[test]
    fn pem_is_standard_base64() {
        assert_eq!(
            pem("X", b"Man"),
            "-----BEGIN X-----\nTWFu\n-----END X-----\n"
        );
        assert_eq!(
            pem("X", b"Ma"),
            "-----BEGIN X-----\nTWE=\n-----END X-----\n"
        );
        assert_eq!(pem("X", b"M"), "-----BEGIN X-----\nTQ==\n-----END X-----\n");
    }

    #[test]
    fn times_switch_to_generalized_time_in_2050() {
        let at = OffsetDateTime::from_unix_timestamp(2_524_608_000).unwrap(); // 2050-01-01
        assert_eq!(time(at), tlv(GENERALIZED_TIME, b"20500101000000Z"));
        let at = OffsetDateTime::from_unix_timestamp(0).unwrap();
        assert_eq!(time(at), tlv(UTC_TIME, b"700101000000Z"));
    }
}
