package prcheck

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/driftd/driftd/pkg/layers/node"
	"github.com/driftd/driftd/pkg/repofs"
)

// Promise 4: a node is contacted only as the base's inventory reaches it.
// OnlyReach compares Reach strings, and Reach joins address, port, user and
// the jump host's without quoting: a pull request that drops the jump host
// and puts " via BASTION:PORT@USER" into the node's user gets the very
// string of the base's node behind a bastion, so driftd dials the node's
// address directly, from the runner's network, as a user the pull request
// wrote.
func TestAttackReachIgnoresJumpHostRemoval(t *testing.T) {
	baseInv := &node.Inventory{
		JumpHosts: map[string]node.Endpoint{"bastion": {Address: "bastion.example.com", Port: 22, User: "jump"}},
		Nodes:     []node.Host{{Name: "db1", Endpoint: node.Endpoint{Address: "10.0.0.5", Port: 22}, Jump: "bastion"}},
	}
	prInv := &node.Inventory{
		Nodes: []node.Host{{Name: "db1", Endpoint: node.Endpoint{Address: "10.0.0.5", Port: 22, User: " via bastion.example.com:22@jump"}}},
	}
	b, p := node.Reach(baseInv, baseInv.Nodes[0]), node.Reach(prInv, prInv.Nodes[0])
	if b == p {
		t.Errorf("the base reaches db1 through a jump host and the pull request directly, yet both Reach %q: OnlyReach lets the pull request's node be contacted", b)
	}

}

// Promise 3 (and "the pull request's driftd.yaml is only shown, as a
// diff"): ReadTreeFile follows a symbolic link anywhere inside the
// checkout, .git included. A pull request whose driftd.yaml is a link to
// .git/config gets that file into the config finding's diff, and so into
// the public comment: with actions/checkout's default persist-credentials
// it holds the job's token (http.extraheader), and a GitLab runner's
// remote URL holds the job token.
func TestAttackReadTreeFileFollowsLinkIntoGitDir(t *testing.T) {
	checkout := t.TempDir()
	if err := os.MkdirAll(filepath.Join(checkout, ".git"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(checkout, ".git/config"), []byte("[http \"https://github.com/\"]\n\textraheader = AUTHORIZATION: basic SECRET-JOB-TOKEN\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(".git/config", filepath.Join(checkout, "driftd.yaml")); err != nil {
		t.Fatal(err)
	}
	head, err := ReadTreeFile(checkout, "driftd.yaml", 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	f := ConfigFinding("driftd.yaml", []byte("layers: {}\n"), head)
	if f != nil && strings.Contains(f.Diff, "SECRET-JOB-TOKEN") {
		t.Errorf("the config finding shows .git/config through the pull request's link:\n%s", f.Diff)
	}
}

// Promise 6: Extract cannot be made huge. Git stores blobs compressed, so
// a base revision of a few hundred KiB can hold a file of any size; Extract
// writes every blob whole, with no bound (repo.max_file_size is not known
// to it, and nothing else bounds it), and io.Copy does not look at ctx, so
// --timeout cannot stop one large file either.
func TestAttackExtractUnboundedBlob(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	const size = 64 << 20 // four times the default repo.max_file_size
	repo := t.TempDir()
	gitRun(t, repo, "init", "-q", "-b", "main")
	writeFile(t, filepath.Join(repo, "driftd.yaml"), "layers: {}\n")
	f, err := os.Create(filepath.Join(repo, "zeros.tf"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	f.Close()
	gitRun(t, repo, "add", "-A")
	gitRun(t, repo, "commit", "-q", "-m", "bomb")
	packed := gitRun(t, repo, "count-objects", "-v")

	dst := t.TempDir()
	_, err = Extract(t.Context(), repo, "main", dst, Limits{})
	st, serr := os.Stat(filepath.Join(dst, "zeros.tf"))
	if err != nil || serr != nil {
		t.Fatalf("extract: %v, %v", err, serr)
	}
	// The file keeps its size (so that the jail refuses it as too large,
	// as it would the real one) but none of its content is written.
	if used := st.Sys().(*syscall.Stat_t).Blocks * 512; used >= 1<<20 {
		t.Errorf("Extract wrote %d bytes of a %d-byte file from a repository of\n%s\nwant a bound (repo.max_file_size, and one on the whole tree)", used, st.Size(), packed)
	}
	rfs, err := repofs.Open(dst, 16<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer rfs.Close()
	if _, err := rfs.ReadFile("zeros.tf"); err == nil {
		t.Error("the jail read a file larger than max_file_size")
	}
	// A whole-tree bound stops Extract.
	if _, err := Extract(t.Context(), repo, "main", t.TempDir(), Limits{MaxTotal: 10}); err == nil || !strings.Contains(err.Error(), "bytes in all") {
		t.Errorf("over the total bound: %v", err)
	}
}
