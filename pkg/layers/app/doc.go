// Package app is driftd's Kubernetes layer. It compares the objects in the
// repository (YAML files and kustomizations) with the live objects, exactly
// and without false drift from server defaults.
//
// How: an object whose live form, stripped of server-owned metadata and
// status, equals its Git form is in sync, with no request beyond the LIST
// that fetched it. Otherwise driftd asks the API server for "Git plus server
// defaults" with a dry-run replace (PUT ?dryRun=All) of the Git object over
// the live one, and diffs that with the live object. A dry-run replace keeps
// server-allocated fields (a Service's clusterIP) and canonicalizes values
// (quantities: 0.5 becomes 500m) exactly as a real apply would, and, unlike
// a server-side apply dry-run or kubectl diff, it drops fields that someone
// added live by hand (hostNetwork: true, an extra env var), so those show up
// as drift. Its result is cached per (Git content, live resourceVersion), so
// a check where nothing changed costs one LIST per kind and namespace.
//
// Secrets are compared per key, but their values never leave this package:
// diffs show each key with an HMAC under a key made at start-up, which tells
// equal from different and nothing else.
package app
