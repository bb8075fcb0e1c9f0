// Package sopsfile decrypts SOPS-encrypted YAML and JSON files in memory
// with age keys, as Flux does for Secrets kept in Git.
//
// It reads files with the sops library's own stores, unwraps the data key
// with the sops age master key and the identities it is given (never the
// SOPS_AGE_KEY* variables, key files or commands sops itself would look
// for), decrypts the tree with sops' AES-GCM cipher and verifies the MAC
// exactly as "sops decrypt" does. Plaintext is only ever returned: it is
// never written to disk, and no error this package returns quotes a
// decrypted value or key material.
//
// Inputs are bounded before the sops library sees them (size, tokens,
// nesting, YAML aliases, duplicate and numerous mapping keys, wrapped data
// keys, work spent on path rules), since the library expands YAML aliases,
// compares every pair of mapping keys, compiles rule regular expressions
// once per path element and recurses, all without limits.
//
// Importing it links the whole sops library, cloud KMS SDKs included (the
// stores and the root package import every key type), and runs its init
// functions: sops' audit package reads /etc/sops/audit.yaml when the
// program starts.
package sopsfile
