// Package helmrender renders Helm charts into the objects a release would
// install, in process with the Helm SDK (never the helm binary), as `helm
// template --kube-version --api-versions` would against the cluster that
// discovery describes.
//
// A chart is read only through a repofs.FS, so nothing outside the
// repository is read: its directory, .helmignore, subcharts in charts/
// (directories or archives), file:// dependencies (which must lie in the
// repository) and values files. A dependency on a chart repository must be
// vendored in charts/. Charts of chart repositories are fetched only when
// Options.AllowRemote says so, with bounded, timed HTTP; OCI registries are
// not supported.
//
// What a release renders is compared, not what Helm does around it:
//
//   - hooks (helm.sh/hook) and tests are left out and counted: they run
//     at install or upgrade time and are gone or changed afterwards;
//   - NOTES.txt is left out;
//   - the charts' crds/ directories are left out and counted: Helm
//     installs them once and never upgrades them, so they are not part of
//     what a release keeps in sync;
//   - `lookup` finds nothing (as in helm template; Flux's helm install
//     would see live objects) and DNS lookups are off;
//   - functions whose output changes from one rendering to the next
//     (randAlphaNum, genCA, now, ...) are reported in Result.Volatile.
//
// Templates can loop or grow without end, and Render cannot stop them:
// RenderIsolated renders a batch in one child process (driftd's hidden
// `helm-template` subcommand, which calls ServeChild), bounded in time and
// memory, and gives only the culprit an error when one chart kills it.
//
// FromHelmRelease and FromApplication turn Flux HelmRelease and Argo CD
// Application objects into Requests.
//
// Errors name the request (origin, chart, values files) and, for a
// template, its path and line, and never quote a supplied value.
package helmrender
