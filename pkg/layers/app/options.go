package app

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

func metav1ListOptions() metav1.ListOptions { return metav1.ListOptions{Limit: 500} }

func metav1UpdateDryRun() metav1.UpdateOptions {
	return metav1.UpdateOptions{DryRun: []string{metav1.DryRunAll}, FieldManager: "driftd-dry-run"}
}
