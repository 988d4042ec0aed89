"""CloudHSM v2, replacing moto's stub: the cluster lifecycle, HSMs, backups and HSM users."""
