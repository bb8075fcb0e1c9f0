package app

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/driftd/driftd/pkg/repofs"
)

// ErrRemoteResource is returned, wrapped, for a kustomization that refers
// to a remote resource (an http(s) URL or a git repository) while
// driftd reads the repository only.
var ErrRemoteResource = errors.New("remote resources (http, https, git) are refused: vendor the base into the repository, or set layers.app.allow_remote_resources")

// kustomizationNames are the file names kustomize looks for, in its order.
var kustomizationNames = []string{"kustomization.yaml", "kustomization.yml", "Kustomization"}

// kustomizationFile returns the name of dir's kustomization file, or "".
func kustomizationFile(rfs *repofs.FS, dir string) string {
	for _, n := range kustomizationNames {
		if fi, err := rfs.Stat(path.Join(dir, n)); err == nil && fi.Mode().IsRegular() {
			return path.Join(dir, n)
		}
	}
	return ""
}

// checkLocal walks a kustomization and the kustomizations it refers to,
// inside the repository, and refuses any reference that kustomize would
// fetch from the network: a resource, base or component that is not a file
// or directory of the repository (kustomize would take it for a git URL
// and run git), and an http(s) URL wherever kustomize loads a file. This
// runs before kustomize, so nothing is fetched. It adds the files that
// secretGenerators read to plain: they are read decrypted (see sopsBuild).
func checkLocal(rfs *repofs.FS, dir string, seen, plain map[string]bool) error {
	if seen[dir] {
		return nil
	}
	seen[dir] = true
	kf := kustomizationFile(rfs, dir)
	if kf == "" {
		return fmt.Errorf("%s: no kustomization file", dir)
	}
	b, err := rfs.ReadFile(kf)
	if err != nil {
		return err
	}
	var k types.Kustomization
	if err := yaml.Unmarshal(b, &k); err != nil {
		return fmt.Errorf("%s: %s", kf, sanitizeErr(err))
	}
	var errs []error
	// Entries kustomize opens as a directory (New) or a file (Load).
	// Deprecated fields are checked too: kustomize still honours them.
	for field, refs := range map[string][]string{"resources": k.Resources, "bases": k.Bases, "components": k.Components} { //nolint:staticcheck // see above
		for _, r := range refs {
			if err := checkRef(rfs, dir, r, seen, plain); err != nil {
				errs = append(errs, fmt.Errorf("%s: %s entry %s: %w", kf, field, repofs.Quote(r), err))
			}
		}
	}
	// Entries kustomize only ever loads as files.
	files := map[string][]string{
		"crds": k.Crds, "configurations": k.Configurations,
		"generators": k.Generators, "transformers": k.Transformers, "validators": k.Validators,
	}
	for _, p := range k.PatchesStrategicMerge { //nolint:staticcheck // deprecated, still honoured
		files["patchesStrategicMerge"] = append(files["patchesStrategicMerge"], string(p))
	}
	for _, p := range k.Patches {
		files["patches"] = append(files["patches"], p.Path)
	}
	for _, p := range k.PatchesJson6902 { //nolint:staticcheck // deprecated, still honoured
		files["patchesJson6902"] = append(files["patchesJson6902"], p.Path)
	}
	for _, r := range k.Replacements {
		files["replacements"] = append(files["replacements"], r.Path)
	}
	files["openapi"] = append(files["openapi"], k.OpenAPI["path"])
	for _, g := range k.ConfigMapGenerator {
		files["configMapGenerator"] = append(files["configMapGenerator"], generatorFiles(g.GeneratorArgs)...)
	}
	for _, g := range k.SecretGenerator {
		for _, f := range generatorFiles(g.GeneratorArgs) {
			files["secretGenerator"] = append(files["secretGenerator"], f)
			if p, err := repofs.Clean(path.Join(dir, f)); err == nil {
				plain[p] = true
			}
		}
	}
	for field, refs := range files {
		for _, r := range refs {
			if isRemoteURL(r) {
				errs = append(errs, fmt.Errorf("%s: %s entry %s: %w", kf, field, repofs.Quote(r), ErrRemoteResource))
			}
		}
	}
	if len(k.HelmCharts) > 0 || len(k.HelmChartInflationGenerator) > 0 {
		errs = append(errs, fmt.Errorf("%s: helmCharts: kustomize's Helm support runs the helm binary, which driftd does not do", kf))
	}
	return errors.Join(errs...)
}

// checkRef checks one resources, bases or components entry: it must be a
// file or a directory of the repository; a directory is checked in turn.
func checkRef(rfs *repofs.FS, dir, ref string, seen, plain map[string]bool) error {
	if isRemoteURL(ref) || strings.Contains(ref, "://") || strings.HasPrefix(ref, "git@") {
		return ErrRemoteResource
	}
	if path.IsAbs(ref) {
		return errors.New("absolute paths are not allowed")
	}
	p := path.Join(dir, ref)
	fi, err := rfs.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		// kustomize would now try the entry as a git URL and run git.
		return fmt.Errorf("not a file or directory in the repository, and %w", ErrRemoteResource)
	}
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return nil
	}
	if err := rfs.Dir(p); err != nil {
		return err
	}
	return checkLocal(rfs, p, seen, plain)
}

func generatorFiles(g types.GeneratorArgs) []string {
	var out []string
	for _, f := range g.FileSources {
		if _, p, ok := strings.Cut(f, "="); ok {
			f = p
		}
		out = append(out, f)
	}
	out = append(out, g.EnvSources...)
	return out
}

// isRemoteURL mirrors kustomize's test for a file it fetches over HTTP.
func isRemoteURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (strings.EqualFold(u.Scheme, "http") || strings.EqualFold(u.Scheme, "https"))
}

// kustomize renders a kustomization directory of the repository: in
// process, reading through rfs only, with remote references refused before
// kustomize runs; or, when remote resources are allowed, in a child process
// bounded by ctx and o.Timeout.
func (o LoadOptions) kustomize(ctx context.Context, rfs *repofs.FS, dir string) ([]Object, error) {
	if o.RemoteRenderer != nil {
		return o.renderRemote(ctx, rfs, dir)
	}
	plain := map[string]bool{}
	if err := checkLocal(rfs, dir, map[string]bool{}, plain); err != nil {
		return nil, fmt.Errorf("kustomization %s: %w", dir, err)
	}
	sb := newSOPSBuild(o.decrypt, plain)
	us, err := build(jailFS{fs: rfs, sops: sb}, rfs, dir)
	switch {
	case err != nil && sb.err != nil:
		return nil, fmt.Errorf("kustomization %s: %w", dir, sb.err)
	case err != nil:
		return nil, err
	}
	objs, err := finishBuild(o.decrypt, us, sb.values, dir)
	if sb.whole {
		for i := range objs {
			if !objs[i].Hidden {
				objs[i].Source, objs[i].Hidden = decryptedSource(objs[i].Source), true
			}
		}
	}
	return objs, err
}

// finishBuild turns the objects of a kustomize build into Objects,
// decrypting those that SOPS-encrypted files made (see decrypter.finish).
// An object that is not a Secret and holds a decrypted value (a
// secretGenerator's source also read by a configMapGenerator, a
// replacement from a generated Secret) has its values hidden too.
func finishBuild(dec *decrypter, us []*unstructured.Unstructured, values map[string]any, dir string) ([]Object, error) {
	out := make([]Object, 0, len(us))
	decrypted := make([]bool, len(us))
	for i, u := range us {
		ko, dcr, err := dec.finish(u, values)
		if err == nil && !ko {
			ko, err = keysOnly(u)
		}
		if err != nil {
			return nil, fmt.Errorf("kustomization %s: %s: %w", dir, ID(u), err)
		}
		decrypted[i] = dcr
		out = append(out, Object{Obj: u, Source: "kustomization " + dir, KeysOnly: ko})
	}
	var secrets needles
	for _, v := range values {
		secrets.add(v)
	}
	for i, o := range out {
		isSecret := o.Obj.GetKind() == "Secret" && o.Obj.GroupVersionKind().Group == ""
		if decrypted[i] || !isSecret && secrets.inObject(o.Obj.Object) {
			out[i].Source, out[i].Hidden = decryptedSource(o.Source), true
		}
	}
	return out, nil
}

// build runs kustomize on dir through fsys and decodes its output, objects
// still SOPS-encrypted included as they are.
func build(fsys filesys.FileSystem, rfs *repofs.FS, dir string) (_ []*unstructured.Unstructured, err error) {
	defer func() {
		// kustomize panics on some objects (encrypted names among
		// them): that kustomization fails, not the layer.
		if p := recover(); p != nil {
			err = fmt.Errorf("kustomization %s: kustomize failed (internal error: %v)", dir, p)
		}
	}()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	res, err := k.Run(fsys, filepath.Join(rfs.Path(), filepath.FromSlash(dir)))
	if err != nil {
		return nil, fmt.Errorf("kustomization %s: %s", dir, sanitizeErr(err))
	}
	var out []*unstructured.Unstructured
	for _, r := range res.Resources() {
		j, err := r.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("kustomization %s: %s: %w", dir, r.CurId(), err)
		}
		objs, err := decode(j)
		if err != nil {
			return nil, fmt.Errorf("kustomization %s: %s: %s", dir, r.CurId(), sanitizeErr(err))
		}
		out = append(out, objs...)
	}
	return out, nil
}

// maxRenderedOutput bounds what a remote rendering may print.
const maxRenderedOutput = 64 << 20

// renderRemote renders dir in a child process (RenderKustomization), in a
// process group of its own, so that kustomize's HTTP fetches and git
// processes end when ctx ends or o.Timeout passes, whatever timeout a URL
// asks for.
func (o LoadOptions) renderRemote(ctx context.Context, rfs *repofs.FS, dir string) ([]Object, error) {
	if o.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Timeout)
		defer cancel()
	}
	args := append(slices.Clone(o.RemoteRenderer[1:]), "--max-file-size", strconv.FormatInt(rfs.MaxFileSize(), 10), rfs.Path(), dir)
	cmd := exec.CommandContext(ctx, o.RemoteRenderer[0], args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.TempDir()}
	var stdout, stderr boundedBuffer
	stdout.max, stderr.max = maxRenderedOutput, 16<<10
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	switch {
	case ctx.Err() != nil:
		return nil, fmt.Errorf("kustomization %s: remote rendering stopped: %w", dir, context.Cause(ctx))
	case stdout.over:
		return nil, fmt.Errorf("kustomization %s: rendered output larger than %d bytes", dir, maxRenderedOutput)
	case err != nil:
		msg := strings.TrimSpace(stderr.String())
		return nil, fmt.Errorf("kustomization %s: %s", dir, strings.TrimPrefix(msg, "driftd kustomize-build: "))
	}
	if err := checkAliases(stdout.Bytes()); err != nil {
		return nil, fmt.Errorf("kustomization %s: %w", dir, err)
	}
	var objs []*unstructured.Unstructured
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(stdout.Bytes())))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("kustomization %s: %s", dir, sanitizeErr(err))
		}
		us, err := decode(doc)
		if err != nil {
			return nil, fmt.Errorf("kustomization %s: %s", dir, sanitizeErr(err))
		}
		objs = append(objs, us...)
	}
	// The child read the files: the values of the repository's
	// encrypted files decrypt its encrypted objects.
	values := map[string]any{}
	if o.decrypt != nil && slices.ContainsFunc(objs, func(u *unstructured.Unstructured) bool { return u.Object["sops"] != nil || u.GetKind() == "Secret" }) {
		values = o.decrypt.repoValues(rfs)
	}
	return finishBuild(o.decrypt, objs, values, dir)
}

// boundedBuffer keeps at most max bytes and notes that more came.
type boundedBuffer struct {
	bytes.Buffer
	max  int
	over bool
}

func (b *boundedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.Len(); len(p) > room {
		b.over = true
		b.Buffer.Write(p[:max(room, 0)])
		return len(p), nil
	}
	return b.Buffer.Write(p)
}

// RenderKustomization renders the kustomization dir of the repository at
// root, remote resources allowed, and writes its objects to w as a YAML
// stream. It is the child side of LoadOptions.RemoteRenderer (`driftd
// kustomize-build`): local files are still read only inside the
// repository, and besides them only kustomize's own temporary clones.
func RenderKustomization(root, dir string, maxFile int64, w io.Writer) error {
	rfs, err := repofs.Open(root, maxFile)
	if err != nil {
		return err
	}
	defer rfs.Close()
	d, err := repofs.Clean(dir)
	if err != nil {
		return err
	}
	// SOPS-encrypted objects are written as they are (the parent decrypts
	// them, or compares them by key names).
	objs, err := build(jailFS{fs: rfs, clones: true}, rfs, d)
	if err != nil {
		return err
	}
	for _, o := range objs {
		b, err := yaml.Marshal(o.Object)
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(w, "---\n%s", b); err != nil {
			return err
		}
	}
	return nil
}

// jailFS is kustomize's view of the repository: read-only, and only the
// repository. Paths are absolute, as kustomize makes them.
type jailFS struct {
	fs *repofs.FS
	// clones lets kustomize use its temporary clones of remote git
	// repositories (os.TempDir()/kustomize-*), and nothing else outside
	// the repository. Only the remote renderer's child sets it.
	clones bool
	// sops decrypts SOPS-encrypted files as kustomize reads them, in
	// memory, or learns their values (see sopsBuild); nil in the child.
	sops *sopsBuild
}

// disk returns the on-disk file system when p is inside one of
// kustomize's temporary clones and clones are allowed.
func (j jailFS) disk(p string) (filesys.FileSystem, bool) {
	if !j.clones {
		return nil, false
	}
	rel, err := filepath.Rel(os.TempDir(), filepath.Clean(p))
	if err != nil || !filepath.IsLocal(rel) || !strings.HasPrefix(rel, "kustomize-") {
		return nil, false
	}
	return filesys.MakeFsOnDisk(), true
}

var _ filesys.FileSystem = jailFS{}

var errReadOnly = errors.New("the repository is read-only to driftd")

func (j jailFS) rel(p string) (string, error) { return j.fs.Rel(filepath.Clean(p)) }

func (j jailFS) Create(p string) (filesys.File, error) {
	if d, ok := j.disk(p); ok {
		return d.Create(p)
	}
	return nil, errReadOnly
}

func (j jailFS) Mkdir(p string) error {
	if d, ok := j.disk(p); ok {
		return d.Mkdir(p)
	}
	return errReadOnly
}

func (j jailFS) MkdirAll(p string) error {
	if d, ok := j.disk(p); ok {
		return d.MkdirAll(p)
	}
	return errReadOnly
}

func (j jailFS) RemoveAll(p string) error {
	if d, ok := j.disk(p); ok {
		return d.RemoveAll(p)
	}
	return errReadOnly
}

func (j jailFS) WriteFile(p string, b []byte) error {
	if d, ok := j.disk(p); ok {
		return d.WriteFile(p, b)
	}
	return errReadOnly
}

func (j jailFS) Open(p string) (filesys.File, error) {
	if d, ok := j.disk(p); ok {
		return d.Open(p)
	}
	b, err := j.ReadFile(p)
	if err != nil {
		return nil, err
	}
	return &memFile{Reader: bytes.NewReader(b), name: filepath.Base(p), size: int64(len(b))}, nil
}

func (j jailFS) IsDir(p string) bool {
	if d, ok := j.disk(p); ok {
		return d.IsDir(p)
	}
	r, err := j.rel(p)
	return err == nil && j.fs.Dir(r) == nil
}

func (j jailFS) ReadDir(p string) ([]string, error) {
	if d, ok := j.disk(p); ok {
		return d.ReadDir(p)
	}
	r, err := j.rel(p)
	if err != nil {
		return nil, err
	}
	es, err := j.fs.ReadDir(r)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Name()
	}
	return out, nil
}

func (j jailFS) CleanedAbs(p string) (filesys.ConfirmedDir, string, error) {
	p = filepath.Clean(p)
	if d, ok := j.disk(p); ok {
		return d.CleanedAbs(p)
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(j.fs.Path(), p)
	}
	if j.IsDir(p) {
		return filesys.ConfirmedDir(p), "", nil
	}
	dir, file := filepath.Split(p)
	dir = filepath.Clean(dir)
	if !j.IsDir(dir) {
		r, err := j.rel(dir)
		if err != nil {
			return "", "", err
		}
		return "", "", fmt.Errorf("%s: %w", r, repofs.ErrNotDir)
	}
	return filesys.ConfirmedDir(dir), file, nil
}

func (j jailFS) Exists(p string) bool {
	if d, ok := j.disk(p); ok {
		return d.Exists(p)
	}
	r, err := j.rel(p)
	if err != nil {
		return false
	}
	ok, err := j.fs.Exists(r)
	return ok && err == nil
}

func (j jailFS) Glob(pattern string) ([]string, error) {
	if d, ok := j.disk(pattern); ok {
		return d.Glob(pattern)
	}
	dir, pat := filepath.Split(filepath.Clean(pattern))
	names, err := j.ReadDir(dir)
	if err != nil {
		return nil, nil
	}
	var out []string
	for _, n := range names {
		if ok, _ := filepath.Match(pat, n); ok {
			out = append(out, filepath.Join(dir, n))
		}
	}
	return out, nil
}

func (j jailFS) ReadFile(p string) ([]byte, error) {
	if d, ok := j.disk(p); ok {
		b, err := d.ReadFile(p)
		if err == nil {
			err = checkAliases(b)
		}
		return b, err
	}
	r, err := j.rel(p)
	if err != nil {
		return nil, err
	}
	b, err := j.fs.ReadFile(r)
	if err != nil {
		return nil, err
	}
	if err := checkAliases(b); err != nil {
		return nil, fmt.Errorf("%s: %w", r, err)
	}
	return j.sops.read(r, b)
}

func (j jailFS) Walk(p string, fn filepath.WalkFunc) error {
	if d, ok := j.disk(p); ok {
		return d.Walk(p, fn)
	}
	r, err := j.rel(p)
	if err != nil {
		return err
	}
	fi, err := j.fs.Stat(r)
	if err := fn(filepath.Join(j.fs.Path(), r), fi, err); err != nil || !fi.IsDir() {
		return err
	}
	return j.fs.WalkDirs(r, func(name string) error {
		fi, err := j.fs.Stat(name)
		return fn(filepath.Join(j.fs.Path(), name), fi, err)
	}, func(name string, err error) error {
		if err != nil {
			return fn(filepath.Join(j.fs.Path(), name), nil, err)
		}
		fi, err := j.fs.Stat(name)
		return fn(filepath.Join(j.fs.Path(), name), fi, err)
	})
}

// memFile is a file read into memory, for kustomize's Open.
type memFile struct {
	*bytes.Reader
	name string
	size int64
}

func (f *memFile) Write([]byte) (int, error) { return 0, errReadOnly }
func (f *memFile) Close() error              { return nil }
func (f *memFile) Stat() (os.FileInfo, error) {
	return memInfo{name: f.name, size: f.size}, nil
}

type memInfo struct {
	name string
	size int64
}

func (i memInfo) Name() string       { return i.name }
func (i memInfo) Size() int64        { return i.size }
func (i memInfo) Mode() fs.FileMode  { return 0o444 }
func (i memInfo) ModTime() time.Time { return time.Time{} }
func (i memInfo) IsDir() bool        { return false }
func (i memInfo) Sys() any           { return nil }
