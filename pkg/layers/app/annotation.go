package app

import (
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// IgnoreAnnotation, on an object in Git, exempts it from drift detection
// without touching driftd.yaml: "true" for the whole object, or a
// comma-separated list of JSON Pointers (a * segment matches any key or
// index) for parts of it. What it silences is still listed as ignored.
const IgnoreAnnotation = "driftd.io/ignore"

// annotationValue is the object's opt-out annotation in Git, trimmed.
func annotationValue(u *unstructured.Unstructured) string {
	return strings.TrimSpace(u.GetAnnotations()[IgnoreAnnotation])
}

// annotationIgnored says why a finding on d is silenced by its annotation,
// or "" when it is not.
func annotationIgnored(d desired) string {
	if wholeObject(annotationValue(d.obj)) {
		return "annotation " + IgnoreAnnotation + " in " + d.source
	}
	return ""
}

// wholeObject reports whether the annotation's value exempts the whole
// object: "true", or a path list holding "/*", which would set everything
// aside; the object is then compared and listed as ignored, never dropped
// without a trace.
func wholeObject(v string) bool {
	if strings.EqualFold(v, "true") {
		return true
	}
	for _, p := range strings.Split(v, ",") {
		if strings.TrimSpace(p) == "/*" {
			return true
		}
	}
	return false
}

// annotationPaths are the JSON Pointers that the opt-out annotation names,
// and the annotation itself, which is driftd's, not the object's.
func annotationPaths(u *unstructured.Unstructured) []string {
	out := []string{"/metadata/annotations/" + escapePointer(IgnoreAnnotation)}
	v := annotationValue(u)
	if v == "" || wholeObject(v) {
		return out
	}
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); strings.HasPrefix(p, "/") {
			out = append(out, p)
		}
	}
	return out
}

// classify gives a managedFields entry its role under the config: the
// configured controllers are the cluster's, the configured appliers apply
// Git, anyone else is a person or a script whose fields are drift. Writing
// through the status subresource proves nothing (anyone granted
// deployments/status can), and status itself is never compared.
func (l *Layer) classify(mf fieldsEntry) role {
	switch {
	case matchAny(l.cfg.Controllers, mf.Manager):
		return roleController
	case matchAny(l.cfg.Appliers, mf.Manager) && mf.Subresource == "":
		// kubectl is the server-side applier, but `kubectl scale` writes
		// the scale subresource under the same name: that is a person.
		return roleApplier
	}
	return roleOther
}
