package testenv

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

// ApplyDeployedRBAC applies, as admin, the Namespace, ServiceAccount and RBAC
// documents of a kustomization under deploy/ (overlay is its path there, as
// "overlays/apply"), rendered with `kubectl kustomize`, the way
// DeployedKubeconfig applies deploy/base's: server-side, field manager
// "driftd-testenv", forcing conflicts. It changes what the ServiceAccount
// driftd/driftd may do, and so what every token of DeployedKubeconfig may
// do, as applying the overlay would on a real cluster. The namespaces of its
// namespaced objects must exist (create them as admin first).
//
// Applying another overlay later sets what that overlay renders on the same
// objects (a rule's verbs are replaced as a whole: the component that added
// "delete" taken away takes "delete" away); objects it does not render are
// left as they are.
//
// It returns once the API server's authorizer grants the ServiceAccount
// every rule that the rendered bindings give it, asked with
// SubjectAccessReviews. A permission the overlay takes away may still be
// granted for a moment after it returns: a test asserting a refusal after a
// narrowing should retry for a few seconds.
func (k *Kube) ApplyDeployedRBAC(t testing.TB, overlay string) {
	t.Helper()
	k.deployedMu.Lock()
	defer k.deployedMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := filepath.Join(Dir(), "..", "deploy", filepath.FromSlash(overlay))
	rendered, err := k.kubectl(ctx, nil, "kustomize", dir)
	if err != nil {
		t.Fatalf("render %s: %v", overlay, err)
	}
	rbac, err := rbacDocs(rendered)
	if err != nil {
		t.Fatalf("render %s: %v", overlay, err)
	}
	if _, err := k.kubectl(ctx, rbac, "apply", "--server-side", "--force-conflicts", "--field-manager=driftd-testenv", "-f", "-"); err != nil {
		t.Fatalf("apply the RBAC of %s: %v", overlay, err)
	}
	reviews, err := deployedGrants(rbac)
	if err != nil {
		t.Fatalf("the RBAC of %s: %v", overlay, err)
	}
	if len(reviews) == 0 {
		return
	}
	// The RBAC authorizer follows the apply through informers: ask until it
	// grants everything the overlay binds.
	var list bytes.Buffer
	for _, r := range reviews {
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatalf("a SubjectAccessReview: %v", err)
		}
		list.Write(b)
		list.WriteByte('\n')
	}
	for {
		denied, err := k.denied(ctx, list.Bytes())
		if err == nil && len(denied) == 0 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("after applying the RBAC of %s, %s is still not granted %s (%v): %v",
				overlay, deployedUser(), strings.Join(denied, ", "), err, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func deployedUser() string {
	return "system:serviceaccount:" + DeployedNamespace + ":" + DeployedServiceAccount
}

// subjectAccessReview is the part of authorization.k8s.io/v1's
// SubjectAccessReview that ApplyDeployedRBAC sends and reads.
type subjectAccessReview struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Spec       struct {
		User               string             `json:"user"`
		Groups             []string           `json:"groups"`
		ResourceAttributes resourceAttributes `json:"resourceAttributes"`
	} `json:"spec"`
	Status struct {
		Allowed bool `json:"allowed"`
	} `json:"status"`
}

type resourceAttributes struct {
	Namespace   string `json:"namespace,omitempty"`
	Verb        string `json:"verb"`
	Group       string `json:"group"`
	Resource    string `json:"resource"`
	Subresource string `json:"subresource,omitempty"`
	Name        string `json:"name,omitempty"`
}

func (a resourceAttributes) String() string {
	r := a.Resource
	if a.Group != "" {
		r += "." + a.Group
	}
	if a.Subresource != "" {
		r += "/" + a.Subresource
	}
	if a.Name != "" {
		r += " " + a.Name
	}
	where := "cluster-wide"
	if a.Namespace != "" {
		where = "in " + a.Namespace
	}
	return a.Verb + " " + r + " " + where
}

// RBACObject is what the tests read of a rendered Role, ClusterRole,
// RoleBinding or ClusterRoleBinding.
type RBACObject struct {
	Kind     string `json:"kind"`
	Metadata struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
	Rules []struct {
		APIGroups     []string `json:"apiGroups"`
		Resources     []string `json:"resources"`
		ResourceNames []string `json:"resourceNames"`
		Verbs         []string `json:"verbs"`
	} `json:"rules"`
	RoleRef struct {
		Kind string `json:"kind"`
		Name string `json:"name"`
	} `json:"roleRef"`
	Subjects []struct {
		Kind      string `json:"kind"`
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"subjects"`
}

// deployedGrants returns a SubjectAccessReview for every verb, group and
// resource that the bindings among docs give the deployed ServiceAccount
// through roles also among docs, in the binding's namespace (cluster-wide
// for a ClusterRoleBinding).
func deployedGrants(docs []byte) ([]subjectAccessReview, error) {
	roles := map[string]RBACObject{} // "ClusterRole/name" or "Role/ns/name"
	var bindings []RBACObject
	for _, doc := range strings.Split(string(docs), "\n---\n") {
		var o RBACObject
		if err := yaml.Unmarshal([]byte(doc), &o); err != nil {
			return nil, fmt.Errorf("a rendered document: %w", err)
		}
		switch o.Kind {
		case "ClusterRole":
			roles["ClusterRole/"+o.Metadata.Name] = o
		case "Role":
			roles["Role/"+o.Metadata.Namespace+"/"+o.Metadata.Name] = o
		case "RoleBinding", "ClusterRoleBinding":
			bindings = append(bindings, o)
		}
	}
	var reviews []subjectAccessReview
	for _, b := range bindings {
		ns := ""
		if b.Kind == "RoleBinding" {
			ns = b.Metadata.Namespace
		}
		bound := false
		for _, s := range b.Subjects {
			sns := s.Namespace
			if sns == "" {
				sns = b.Metadata.Namespace
			}
			bound = bound || (s.Kind == "ServiceAccount" && s.Name == DeployedServiceAccount && sns == DeployedNamespace)
		}
		key := "ClusterRole/" + b.RoleRef.Name
		if b.RoleRef.Kind == "Role" {
			key = "Role/" + ns + "/" + b.RoleRef.Name
		}
		role, ok := roles[key]
		if !bound || !ok {
			continue
		}
		for _, rule := range role.Rules {
			name := ""
			if len(rule.ResourceNames) > 0 {
				name = rule.ResourceNames[0]
			}
			for _, g := range rule.APIGroups {
				for _, res := range rule.Resources {
					res, sub, _ := strings.Cut(res, "/")
					for _, v := range rule.Verbs {
						r := subjectAccessReview{APIVersion: "authorization.k8s.io/v1", Kind: "SubjectAccessReview"}
						r.Spec.User = deployedUser()
						r.Spec.Groups = []string{"system:serviceaccounts", "system:serviceaccounts:" + DeployedNamespace, "system:authenticated"}
						r.Spec.ResourceAttributes = resourceAttributes{Namespace: ns, Verb: v, Group: g, Resource: res, Subresource: sub, Name: name}
						reviews = append(reviews, r)
					}
				}
			}
		}
	}
	return reviews, nil
}

// denied creates the SubjectAccessReviews (JSON objects, one a line) and
// returns those the API server does not allow.
func (k *Kube) denied(ctx context.Context, reviews []byte) ([]string, error) {
	out, err := k.kubectl(ctx, reviews, "create", "-f", "-", "-o", "json")
	if err != nil {
		return nil, err
	}
	var denied []string
	n := 0
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var o struct {
			Kind  string                `json:"kind"`
			Items []subjectAccessReview `json:"items"`
			subjectAccessReview
		}
		if err := dec.Decode(&o); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("kubectl create's SubjectAccessReviews: %w", err)
		}
		items := o.Items
		if o.Kind != "List" {
			items = []subjectAccessReview{o.subjectAccessReview}
		}
		for _, r := range items {
			n++
			if !r.Status.Allowed {
				denied = append(denied, r.Spec.ResourceAttributes.String())
			}
		}
	}
	if want := bytes.Count(reviews, []byte("\n")); n != want {
		return nil, fmt.Errorf("kubectl create answered %d SubjectAccessReviews, want %d", n, want)
	}
	return denied, nil
}
