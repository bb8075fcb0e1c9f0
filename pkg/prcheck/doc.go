// Package prcheck checks a pull request against its base revision: it
// extracts the base tree from Git, so that the config and the code driftd
// trusts come from the base and never from the pull request's checkout, and
// it classifies each finding by comparing the base's report with the pull
// request's (see drift.Class). A pull request learns nothing it could not
// read before: live values are shown only for objects the base already
// manages or already reported.
package prcheck
