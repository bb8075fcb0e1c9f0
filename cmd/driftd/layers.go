package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"

	"github.com/driftd/driftd/pkg/config"
	"github.com/driftd/driftd/pkg/drift"
	"github.com/driftd/driftd/pkg/layers/app"
	"github.com/driftd/driftd/pkg/layers/infra"
	"github.com/driftd/driftd/pkg/layers/node"
)

// errNoLayer is returned when the config enables no layer at all.
var errNoLayer = errors.New("no layer is enabled: configure at least one of layers.infra, layers.node or layers.app in the config")

// buildLayers wires the enabled layers from the config, explicitly: there is
// no registry.
func buildLayers(cfg *config.Config, only []string, logger *slog.Logger) ([]drift.Layer, error) {
	names, err := selectLayers(cfg.Layers.Enabled(), only)
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, errNoLayer
	}
	var layers []drift.Layer
	for _, n := range names {
		switch n {
		case drift.LayerInfra:
			l := infra.New(*cfg.Layers.Infra, filepath.Join(cfg.CacheDir, "terraform"), logger.With("layer", n))
			l.DenyEnv(cfg.Repo.Auth.TokenEnv)
			l.SetIgnore(cfg.Ignore)
			layers = append(layers, l)
		case drift.LayerNode:
			l, err := node.New(*cfg.Layers.Node, logger.With("layer", n))
			if err != nil {
				return nil, err
			}
			l.SetSyncedMemory(filepath.Join(cfg.CacheDir, "node-synced.json"))
			layers = append(layers, l)
		case drift.LayerApp:
			ac := *cfg.Layers.App
			if cfg.Repo.URL != "" {
				// HelmRelease sources and Applications that name the
				// repository driftd checks out are this repository.
				ac.Helm.RepoURLs = append(slices.Clone(ac.Helm.RepoURLs), cfg.Repo.URL)
			}
			l, err := app.New(ac, cfg.Ignore, logger.With("layer", n))
			if err != nil {
				return nil, err
			}
			self, err := os.Executable()
			if err != nil {
				return nil, fmt.Errorf("app layer: helm: %w", err)
			}
			// Charts render in a child process, bounded in time and
			// memory, whatever a template does.
			l.SetHelmRenderer([]string{self, helmTemplateCommand})
			if cfg.Layers.App.AllowRemoteResources {
				argv, err := remoteRenderer()
				if err != nil {
					return nil, err
				}
				l.SetRemoteRenderer(argv)
			}
			layers = append(layers, l)
		default:
			return nil, fmt.Errorf("layer %s is not available in this build of driftd", n)
		}
	}
	return layers, nil
}
