// Package kube builds Kubernetes client configuration the way kubectl users
// expect: an explicit kubeconfig, else $KUBECONFIG or ~/.kube/config, else
// the in-cluster service account.
package kube

import (
	"fmt"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Config returns a client config for kubeconfig and context (both may be
// empty), with the given client-side rate limits.
func Config(kubeconfig, context string, qps float32, burst int) (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = kubeconfig
	rc, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: context}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubernetes client config: %w", err)
	}
	rc.QPS, rc.Burst = qps, burst
	rc.UserAgent = "driftd"
	return rc, nil
}
