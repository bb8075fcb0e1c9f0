// Package node is driftd's node layer. The repo holds an inventory of nodes
// and, per role, the files a node must carry (systemd drop-ins, static pod
// manifests), rendered per node with text/template. Each node's managed files
// are fetched in one SSH session (or read from a mounted host root) and
// compared with Git: changed content, mode or owner, missing files, and
// unmanaged files in a managed scope are findings, each with a unified diff.
package node
