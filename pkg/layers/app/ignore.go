package app

import (
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/driftd/driftd/pkg/drift"
	"github.com/driftd/driftd/pkg/ignore"
)

// ignoredPaths returns the JSON Pointers that active ignore rules remove
// from u before it is compared. Rules without paths, which silence whole
// objects, are applied to the findings by the engine, the same on every
// layer, so that what they silence is still counted and listed.
func (l *Layer) ignoredPaths(u *unstructured.Unstructured) []string {
	target := u.GetNamespace()
	if target == "" {
		target = ClusterTarget
	}
	return ignore.New(l.ignore, time.Now()).Paths(drift.LayerApp, target, ignore.ObjectOf(drift.LayerApp, ID(u)))
}

// ignoredManagers returns the field managers whose fields active rules set
// aside within u.
func (l *Layer) ignoredManagers(u *unstructured.Unstructured) []string {
	target := u.GetNamespace()
	if target == "" {
		target = ClusterTarget
	}
	return ignore.New(l.ignore, time.Now()).Managers(drift.LayerApp, target, ignore.ObjectOf(drift.LayerApp, ID(u)))
}
