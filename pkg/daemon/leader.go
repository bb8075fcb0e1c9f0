package daemon

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"

	"github.com/driftd/driftd/pkg/config"
	"github.com/driftd/driftd/pkg/kube"
)

// LeaseElector elects a leader among replicas with a coordination.k8s.io
// Lease, as Kubernetes controllers do.
type LeaseElector struct {
	cfg      config.LeaderElection
	client   kubernetes.Interface
	identity string
	log      *slog.Logger
}

// NewLeaseElector builds the Kubernetes client from cfg.Kubeconfig (or
// $KUBECONFIG, or the in-cluster config).
func NewLeaseElector(cfg config.LeaderElection, log *slog.Logger) (*LeaseElector, error) {
	rc, err := kube.Config(cfg.Kubeconfig, "", 5, 10)
	if err != nil {
		return nil, fmt.Errorf("leader election: %w", err)
	}
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("leader election: %w", err)
	}
	host, _ := os.Hostname()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return &LeaseElector{cfg: cfg, client: client, identity: host + "_" + hex.EncodeToString(b), log: log}, nil
}

// Identity is this replica's name in the Lease.
func (e *LeaseElector) Identity() string { return e.identity }

// Run campaigns until ctx ends. lead runs while this replica leads; its
// context ends when leadership is lost. On a clean shutdown the Lease is
// released at once, so that another replica takes over without waiting for
// it to expire.
func (e *LeaseElector) Run(ctx context.Context, lead func(ctx context.Context)) error {
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: e.cfg.Namespace, Name: e.cfg.LeaseName},
		Client:     e.client.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: e.identity},
	}
	for ctx.Err() == nil {
		le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
			Lock:            lock,
			LeaseDuration:   e.cfg.LeaseDuration.Std(),
			RenewDeadline:   e.cfg.RenewDeadline.Std(),
			RetryPeriod:     e.cfg.RetryPeriod.Std(),
			ReleaseOnCancel: true,
			Name:            "driftd",
			Callbacks: leaderelection.LeaderCallbacks{
				OnStartedLeading: lead,
				OnStoppedLeading: func() {},
				OnNewLeader: func(id string) {
					e.log.Info("leader elected", "leader", id, "self", id == e.identity)
				},
			},
		})
		if err != nil {
			return fmt.Errorf("leader election: %w", err)
		}
		// Run returns when leadership is lost or ctx ends; campaign again
		// unless shutting down.
		le.Run(ctx)
		if ctx.Err() == nil {
			time.Sleep(e.cfg.RetryPeriod.Std())
		}
	}
	return nil
}
