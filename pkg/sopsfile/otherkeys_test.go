package sopsfile

import (
	"time"

	"github.com/getsops/sops/v3/kms"
	"github.com/getsops/sops/v3/pgp"
)

func pgpKey() *pgp.MasterKey {
	return &pgp.MasterKey{
		Fingerprint:  "FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4",
		EncryptedKey: "-----BEGIN PGP MESSAGE-----\n\nwcBMA0ZAKE\n-----END PGP MESSAGE-----",
		CreationDate: time.Now().UTC(),
	}
}

func kmsKey() *kms.MasterKey {
	return &kms.MasterKey{
		Arn:          "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
		EncryptedKey: "AQICAHhFAKE",
		CreationDate: time.Now().UTC(),
	}
}
