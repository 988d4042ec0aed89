"""How the real entry function delivers its answer to CloudFormation's response URL.

S3's pre-signed URLs are HTTPS: one test serves the response URL over TLS with a CA
the test makes, which the function trusts through `SSL_CERT_FILE` (set only here).
The other takes the system's roots away (`SSL_CERT_FILE` naming no file): the
function must still start and answer, with Mozilla's bundled roots.
"""

import datetime
import ipaddress
import json
import ssl
import time
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from runner.custom import ResponseServer
from runner.template import Template

from .conftest import stack_for


def with_entry_environment(template: Template, **variables: str) -> Template:
    """The fixture template with more variables in the entry function's environment."""
    body = json.loads(template.path.read_text())
    body["Resources"]["Entry"]["Properties"]["Environment"]["Variables"].update(variables)
    template.path.write_text(json.dumps(body))
    return Template.load(template.path)


def local_tls(folder: Path) -> tuple[Path, ssl.SSLContext]:
    """A CA (its certificate written to a file) and a server context for 127.0.0.1 signed by it."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cdk-cloudhsm test response CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    server = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_file = folder / "response-ca.pem"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    chain = folder / "response-server.pem"
    chain.write_bytes(server.public_bytes(serialization.Encoding.PEM))
    key_file = folder / "response-server.key"
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(chain, key_file)
    return ca_file, context


def entry_log(stack) -> str:
    return Path(stack.resources["Entry"].attributes["LogFile"]).read_text()


def entry_log_once_it_says(stack, line: str) -> str:
    """The entry function's log once `line` is in it. The response reaches CloudFormation
    before the function logs that it was delivered, so on a busy machine the line may come
    a moment after the outcome."""
    for _ in range(300):
        if line in (log := entry_log(stack)):
            return log
        time.sleep(0.1)
    return entry_log(stack)


def test_a_response_is_delivered_over_https_to_a_url_a_local_ca_signed(emulator, workflow_template, tmp_path):
    ca_file, tls = local_tls(tmp_path)
    template = with_entry_environment(workflow_template, SSL_CERT_FILE=str(ca_file))
    stack, _ = stack_for(template, emulator)
    stack.driver.responses.close()
    stack.driver.responses = ResponseServer(tls=tls)
    stack.create()
    # The answer arrives while the answering task is still finishing: the outcome, not the
    # execution's status at that moment, is what CloudFormation saw.
    create, _ = stack.progress.operations[0]
    assert (create.request_type, create.outcome.status, create.outcome.physical_id) == ("Create", "SUCCESS", "x")
    log = entry_log_once_it_says(stack, "response delivered to CloudFormation")
    assert "response delivered to CloudFormation" in log
    assert "https://127.0.0.1:" in log, "the URL it answered was the TLS one"
    stack.delete()
    assert stack.progress.operations[1][0].outcome.status == "SUCCESS"


def test_the_entry_function_answers_when_the_system_roots_cannot_be_loaded(emulator, workflow_template, tmp_path):
    template = with_entry_environment(workflow_template, SSL_CERT_FILE=str(tmp_path / "no-such-bundle.pem"))
    stack, _ = stack_for(template, emulator)
    stack.create()
    create, _ = stack.progress.operations[0]
    assert (create.request_type, create.outcome.status) == ("Create", "SUCCESS")
    log = entry_log(stack)
    assert "the system's root certificates cannot be loaded; using the bundled ones" in log
    assert "Bundled" in log
    stack.delete()
