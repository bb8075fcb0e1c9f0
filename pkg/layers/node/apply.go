package node

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/sys/unix"

	"github.com/driftd/driftd/pkg/drift"
	"github.com/driftd/driftd/pkg/yamlconf"
)

// ApplyConfig configures what the node layer's apply mode does besides
// writing files.
type ApplyConfig struct {
	// Reload runs ReloadCommand once after apply wrote or removed a systemd
	// unit file or drop-in, and for units that systemd reports as needing a
	// reload. It defaults to true.
	Reload yamlconf.Switch `yaml:"reload"`
	// ReloadCommand is the shell command that reloads systemd. Over SSH it
	// runs on the node; with the local transport it runs in driftd's
	// container, where it must reach the host's systemd (for example
	// "nsenter -t 1 -m -- systemctl daemon-reload", with hostPID). It
	// defaults to "systemctl daemon-reload". A command that fails is a
	// failed action.
	ReloadCommand string `yaml:"reload_command"`
	// RestartUnits restarts, after the reload, every unit whose unit file
	// or drop-in apply changed, and every unit systemd reported as running
	// an old definition. It defaults to false: the change then takes effect
	// at the unit's next restart. A template (foo@.service) is never
	// restarted.
	RestartUnits bool `yaml:"restart_units"`
	// RestartCommand is the shell command that restarts a unit; the unit's
	// name is appended, quoted. It defaults to "systemctl restart".
	RestartCommand string `yaml:"restart_command"`
	// Timeout bounds one node's apply, its reload and restarts included.
	// It defaults to 2m.
	Timeout yamlconf.Duration `yaml:"timeout"`
}

// The defaults of ApplyConfig.
const (
	DefaultReloadCommand  = "systemctl daemon-reload"
	DefaultRestartCommand = "systemctl restart"
	defaultApplyTimeout   = 2 * time.Minute
)

func (c *ApplyConfig) defaults() {
	if c.ReloadCommand == "" {
		c.ReloadCommand = DefaultReloadCommand
	}
	if c.RestartCommand == "" {
		c.RestartCommand = DefaultRestartCommand
	}
	c.Timeout = c.Timeout.Or(defaultApplyTimeout)
}

func (c *ApplyConfig) validate() []yamlconf.FieldError {
	var errs []yamlconf.FieldError
	if c.Timeout < 0 {
		errs = append(errs, yamlconf.FieldError{Path: []string{"timeout"}, Msg: "must not be negative"})
	}
	return errs
}

// liveAbsent is the live state of a path with nothing at it; otherwise the
// live state is the SHA-256 of a regular file's content, in hex, or
// liveOther for anything else.
const (
	liveAbsent = "absent"
	liveOther  = "other"
)

// nodeRecord is what a check saw of one node, for apply mode to act on
// exactly that. It travels in drift.TargetResult.Private.
type nodeRecord struct {
	// host and jump are how the check reached the node.
	host Host
	jump *Endpoint
	// files are the file findings' records, by finding object.
	files map[string]fileRecord
	// units maps the objects of "systemd:UNIT" findings (the unit needs a
	// daemon-reload) to the unit.
	units map[string]string
}

// fileRecord is one drifted path.
type fileRecord struct {
	path string
	// want is Git's file; nil for an unmanaged file, which apply removes.
	want *File
	// live is the state the check read (liveAbsent or a content hash).
	live string
	// cannot says why apply leaves the path alone, if it does.
	cannot string
}

// newRecord keeps, for each finding, what apply needs: the path, Git's file
// and the hash of the content the check read.
func newRecord(inv *Inventory, h Host, desired map[string]File, got Snapshot, findings []drift.Finding) *nodeRecord {
	r := &nodeRecord{host: h, files: map[string]fileRecord{}, units: map[string]string{}}
	if h.Jump != "" {
		j := inv.JumpHosts[h.Jump]
		r.jump = &j
	}
	// Findings name paths escaped; two paths could escape alike.
	byObject := map[string][]string{}
	for p := range desired {
		byObject[Escape(p)] = append(byObject[Escape(p)], p)
	}
	for p := range got.Files {
		if _, ok := desired[p]; !ok {
			byObject[Escape(p)] = append(byObject[Escape(p)], p)
		}
	}
	for _, f := range findings {
		if u, ok := strings.CutPrefix(f.Object, "systemd:"); ok && slices.Contains(got.NeedReload, u) {
			r.units[f.Object] = u
			continue
		}
		paths := byObject[f.Object]
		if len(paths) != 1 {
			r.files[f.Object] = fileRecord{cannot: "several paths on the node print as this name: fix it by hand"}
			continue
		}
		p := paths[0]
		fr := fileRecord{path: p, live: liveAbsent}
		if w, ok := desired[p]; ok {
			fr.want = &w
		}
		if have, ok := got.Files[p]; ok {
			if note, _ := special(have); note != "" {
				fr.cannot = "it " + note + "; apply replaces or removes only regular files whose content the check read: fix it by hand"
			} else {
				sum := sha256.Sum256(have.Content)
				fr.live = hex.EncodeToString(sum[:])
			}
		}
		r.files[f.Object] = fr
	}
	return r
}

// fileOp is one file to write (want set) or remove, if its live state is
// still live.
type fileOp struct {
	path   string
	want   *File
	live   string
	dryRun bool
}

// nodeWriter changes one node's files.
type nodeWriter interface {
	// file writes or removes op.path, atomically, if its live state is
	// still op.live; otherwise it changes nothing and returns the state it
	// found with same false. With op.dryRun it only compares.
	file(ctx context.Context, op fileOp) (now string, same bool, err error)
	// command runs a shell command on the node.
	command(ctx context.Context, cmd string) error
	close()
}

// writerOpener is a transport that can change files.
type writerOpener interface {
	openWriter(ctx context.Context, rec *nodeRecord, wrap func(io.Writer) io.Writer) (nodeWriter, error)
}

var _ drift.Applier = (*Layer)(nil)

// Apply implements drift.Applier. Each changed or missing file is written
// atomically (a temporary file in the same directory, owner and mode set,
// synced, then renamed over the path), each unmanaged file removed, only if
// its content is still what the check read. Then systemd is reloaded when a
// unit file or drop-in changed (layers.node.apply.reload) and the affected
// units restarted if layers.node.apply.restart_units is set. It stops at
// the first failure.
func (l *Layer) Apply(ctx context.Context, _ drift.Snapshot, target drift.TargetResult, req drift.ApplyRequest) []drift.ActionResult {
	rec, _ := target.Private.(*nodeRecord)
	ctx, cancel := context.WithTimeout(ctx, l.cfg.Apply.Timeout.Or(defaultApplyTimeout).Std())
	defer cancel()
	a := &nodeApply{l: l, rec: rec, dryRun: req.DryRun}
	defer a.close()
	out := a.run(ctx, req.Findings)
	for _, r := range out {
		l.logger.Info("apply", "target", target.Name, "object", r.Object, "action", r.Action, "result", r.Result, "reason", r.Reason, "dry_run", req.DryRun)
	}
	return out
}

// nodeApply is one node's apply.
type nodeApply struct {
	l      *Layer
	rec    *nodeRecord
	dryRun bool
	w      nodeWriter
	failed string
}

const earlierFailure = "earlier_failure: an earlier action failed; apply stops at the first failure"

func (a *nodeApply) run(ctx context.Context, findings []drift.Finding) []drift.ActionResult {
	out := make([]drift.ActionResult, 0, len(findings)+1)
	var reloadRows []int
	var units []string // units whose definition changed, for the reload and restarts
	for _, f := range findings {
		r := drift.ActionResult{Object: f.Object, Action: drift.ActionFor(f), Diff: f.Diff}
		switch {
		case a.failed != "":
			r.Result, r.Reason = drift.ResultBlocked, a.failed
		case a.rec == nil:
			r.Result, r.Reason = drift.ResultFailed, "the check kept no record of this node"
		case a.rec.units[f.Object] != "":
			// systemd runs an old definition: the reload below restores it.
			r.Action = "reload"
			reloadRows = append(reloadRows, len(out))
			units = appendNew(units, a.rec.units[f.Object])
		default:
			r = a.file(ctx, f, r)
			if u, ok := systemdUnit(a.rec.files[f.Object].path); ok && a.done(r) {
				units = appendNew(units, u)
			}
		}
		if r.Result == drift.ResultFailed && a.failed == "" {
			a.failed = earlierFailure
		}
		out = append(out, r)
	}
	if len(units) == 0 {
		return out
	}

	// One reload for the whole node, reported on each unit that needed one
	// or, when only files changed, as an action of its own.
	reload := drift.ActionResult{Object: "systemd", Action: "reload",
		Diff: fmt.Sprintf("# %s: unit files or drop-ins of %s changed\n", a.l.reloadCommand(), strings.Join(units, ", "))}
	switch {
	case a.failed != "":
		reload.Result, reload.Reason = drift.ResultBlocked, a.failed
	case !a.l.cfg.Apply.Reload.Value(true):
		reload.Result, reload.Reason = drift.ResultSkipped, "layers.node.apply.reload is off: systemd runs the old definitions until reloaded"
	case a.dryRun:
		reload.Result = drift.ResultWouldApply
	default:
		reload.Result = drift.ResultApplied
		if err := a.command(ctx, a.l.reloadCommand()); err != nil {
			reload.Result, reload.Reason = drift.ResultFailed, "reload: "+err.Error()
			a.failed = earlierFailure
		}
	}
	if len(reloadRows) == 0 {
		out = append(out, reload)
	}
	for _, i := range reloadRows {
		out[i].Result, out[i].Reason = reload.Result, reload.Reason
	}

	if !a.l.cfg.Apply.RestartUnits {
		return out
	}
	for _, u := range units {
		r := drift.ActionResult{Object: u, Action: "restart", Diff: fmt.Sprintf("# %s %s: its unit file or drop-ins changed\n", a.l.restartCommand(), u)}
		switch {
		case a.failed != "":
			r.Result, r.Reason = drift.ResultBlocked, a.failed
		case !validUnit(u):
			r.Result, r.Reason = drift.ResultSkipped, "not a unit name apply restarts (a template, or odd characters): restart it by hand"
		case a.dryRun:
			r.Result = drift.ResultWouldApply
		default:
			r.Result = drift.ResultApplied
			if err := a.command(ctx, a.l.restartCommand()+" "+shellQuote(u)); err != nil {
				r.Result, r.Reason = drift.ResultFailed, "restart: "+err.Error()
				a.failed = earlierFailure
			}
		}
		out = append(out, r)
	}
	return out
}

func (a *nodeApply) done(r drift.ActionResult) bool {
	return r.Result == drift.ResultApplied || r.Result == drift.ResultWouldApply
}

// file writes or removes the path of one finding.
func (a *nodeApply) file(ctx context.Context, f drift.Finding, r drift.ActionResult) drift.ActionResult {
	fr, ok := a.rec.files[f.Object]
	switch {
	case !ok:
		r.Result, r.Reason = drift.ResultFailed, "the check kept no record of this object"
		return r
	case fr.cannot != "":
		r.Result, r.Reason = drift.ResultSkipped, fr.cannot
		return r
	case (f.Change == drift.ChangeUnmanaged) != (fr.want == nil):
		r.Result, r.Reason = drift.ResultFailed, "the finding does not match the check's record"
		return r
	}
	if msg := a.l.unsafe(fr); msg != "" {
		r.Result, r.Reason = drift.ResultSkipped, msg
		return r
	}
	w, err := a.writer(ctx)
	if err != nil {
		r.Result, r.Reason = drift.ResultFailed, err.Error()
		return r
	}
	now, same, err := w.file(ctx, fileOp{path: fr.path, want: fr.want, live: fr.live, dryRun: a.dryRun})
	switch {
	case err != nil:
		r.Result, r.Reason = drift.ResultFailed, err.Error()
	case !same:
		r.Result, r.Reason = drift.ResultSkipped, changedReason(fr.live, now)
	case a.dryRun:
		r.Result = drift.ResultWouldApply
	default:
		r.Result = drift.ResultApplied
	}
	return r
}

func (a *nodeApply) command(ctx context.Context, cmd string) error {
	w, err := a.writer(ctx)
	if err != nil {
		return err
	}
	return w.command(ctx, cmd)
}

// writer connects to the node on first use: a node apply is one connection.
func (a *nodeApply) writer(ctx context.Context) (nodeWriter, error) {
	if a.w != nil {
		return a.w, nil
	}
	t, ok := a.l.transport.(writerOpener)
	if !ok {
		return nil, fmt.Errorf("the %s transport cannot apply", a.l.cfg.Transport)
	}
	w, err := t.openWriter(ctx, a.rec, a.l.stdinWrap)
	if err != nil {
		return nil, fmt.Errorf("node %s (%s): %w", a.rec.host.Name, hostPort(a.rec.host.Endpoint), err)
	}
	a.w = w
	return w, nil
}

func (a *nodeApply) close() {
	if a.w != nil {
		a.w.close()
	}
}

func (l *Layer) reloadCommand() string {
	if l.cfg.Apply.ReloadCommand == "" {
		return DefaultReloadCommand
	}
	return l.cfg.Apply.ReloadCommand
}

func (l *Layer) restartCommand() string {
	if l.cfg.Apply.RestartCommand == "" {
		return DefaultRestartCommand
	}
	return l.cfg.Apply.RestartCommand
}

func changedReason(was, now string) string {
	switch {
	case was == liveAbsent:
		return "created since the check: check again"
	case now == liveAbsent:
		return "deleted since the check: check again"
	default:
		return "changed since the check: check again"
	}
}

// tempPrefix and tempSuffix frame the names of apply's temporary files. A
// file so named is apply's own: apply removes those it finds (left behind
// by a connection that dropped) in a directory before writing there.
const (
	tempPrefix = ".driftd-"
	tempSuffix = ".tmp"
)

// isTemp reports whether base is named like apply's temporary files.
func isTemp(base string) bool {
	return strings.HasPrefix(base, tempPrefix) && strings.HasSuffix(base, tempSuffix) && len(base) > len(tempPrefix)+len(tempSuffix)
}

func tempBase() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return tempPrefix + hex.EncodeToString(b[:]) + tempSuffix
}

var accountName = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]*\$?$`)

// unsafe says why apply must not touch a path, if it must not: the names
// come from the repository and from the node, and apply writes only clean
// absolute paths inside the scopes, as plain printable names.
func (l *Layer) unsafe(fr fileRecord) string {
	p := fr.path
	switch {
	case !strings.HasPrefix(p, "/") || path.Clean(p) != p || p == "/":
		return "not a clean absolute path: apply does not write it"
	case Escape(p) != p:
		return "its name has control characters or is not UTF-8: fix it by hand"
	case !Match(l.cfg.Scopes, p):
		return "outside every scope: apply writes only inside layers.node.scopes"
	case fr.want != nil && isTemp(path.Base(p)):
		// Apply removes such files before it writes in their directory.
		return "named like apply's temporary files (" + tempPrefix + "*" + tempSuffix + "): apply does not write it"
	}
	if w := fr.want; w != nil {
		if !accountName.MatchString(w.Owner) || !accountName.MatchString(w.Group) {
			return fmt.Sprintf("owner %q or group %q is not a plain name", w.Owner, w.Group)
		}
		if w.Mode&^fs.ModePerm != 0 {
			return "mode " + octal(w.Mode) + " is not plain permissions"
		}
	}
	return ""
}

// systemdUnit returns the unit that p defines or is a drop-in of, when p is
// a unit file or drop-in in one of systemd's unit directories.
func systemdUnit(p string) (string, bool) {
	for _, dir := range []string{"/etc/systemd/system/", "/run/systemd/system/", "/usr/lib/systemd/system/", "/lib/systemd/system/"} {
		rest, ok := strings.CutPrefix(p, dir)
		if !ok {
			continue
		}
		if u, conf, ok := strings.Cut(rest, "/"); ok {
			if strings.HasSuffix(u, ".d") && strings.HasSuffix(conf, ".conf") && !strings.Contains(conf, "/") {
				return strings.TrimSuffix(u, ".d"), true
			}
			return "", false
		}
		if slices.Contains(unitSuffixes, path.Ext(rest)) {
			return rest, true
		}
	}
	return "", false
}

var unitSuffixes = []string{".service", ".socket", ".device", ".mount", ".automount", ".swap", ".target", ".path", ".timer", ".slice", ".scope"}

var unitName = regexp.MustCompile(`^[A-Za-z0-9:_.\\-]+(@[A-Za-z0-9:_.\\-]+)?\.[a-z]+$`)

// validUnit reports whether u is a unit name apply may restart: not a
// template (foo@.service) and with no odd characters.
func validUnit(u string) bool {
	return unitName.MatchString(u) && !strings.Contains(u, "@.") && slices.Contains(unitSuffixes, path.Ext(u))
}

func appendNew(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

// ---- SSH ----

func (t sshTransport) openWriter(ctx context.Context, rec *nodeRecord, wrap func(io.Writer) io.Writer) (nodeWriter, error) {
	client, closeAll, err := t.c.connect(ctx, rec.host.Endpoint, rec.jump)
	if err != nil {
		return nil, err
	}
	return &sshWriter{client: client, closeAll: closeAll, wrap: wrap}, nil
}

// sshWriter changes a node's files over one SSH connection, one session
// (one shell command) per file.
type sshWriter struct {
	client   *ssh.Client
	closeAll func()
	// wrap, for tests, wraps the writer of a session's stdin.
	wrap func(io.Writer) io.Writer
}

func (w *sshWriter) close() { w.closeAll() }

// applyMarker starts the line with which the file script answers:
// "ok", "changed STATE" or "error MESSAGE".
const applyMarker = "DRIFTD-APPLY"

func (w *sshWriter) file(ctx context.Context, op fileOp) (string, bool, error) {
	var content []byte
	tmp := ""
	if op.want != nil && !op.dryRun {
		content = op.want.Content
		tmp = path.Join(path.Dir(op.path), tempBase())
	}
	stdout, err := w.run(ctx, fileScript(op, tmp), content)
	return parseAnswer(stdout, err)
}

// parseAnswer reads the file script's answer.
func parseAnswer(stdout string, runErr error) (string, bool, error) {
	answer, found := "", false
	sc := bufio.NewScanner(strings.NewReader(stdout))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), applyMarker+" "); ok {
			answer, found = v, true
		}
	}
	verb, rest, _ := strings.Cut(answer, " ")
	switch {
	case found && verb == "changed":
		return rest, false, nil
	case found && verb == "error":
		// The node's own account of what went wrong.
		return "", false, errors.New(Escape(rest))
	case runErr != nil:
		return "", false, runErr
	case found && verb == "ok":
		return "", true, nil
	}
	return "", false, fmt.Errorf("unexpected answer from node: %s", Escape(truncate(stdout, 200)))
}

func (w *sshWriter) command(ctx context.Context, cmd string) error {
	_, err := w.run(ctx, cmd, nil)
	return err
}

// run runs cmd in a new session, feeds it stdin and returns what it printed
// (bounded). A connection that drops, or ctx ending, fails the run; the
// node's side then finds its stdin cut short.
func (w *sshWriter) run(ctx context.Context, cmd string, stdin []byte) (string, error) {
	sess, err := w.client.NewSession()
	if err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return "", fmt.Errorf("open session: %w", err)
	}
	defer sess.Close()
	stdout, stderr := &boundedBuffer{max: maxStderr}, &boundedBuffer{max: maxStderr}
	sess.Stdout, sess.Stderr = stdout, stderr
	in, err := sess.StdinPipe()
	if err != nil {
		return "", fmt.Errorf("open session: %w", err)
	}
	if err := sess.Start(cmd); err != nil {
		return "", fmt.Errorf("start command: %w", err)
	}
	fed := make(chan struct{})
	go func() {
		defer close(fed)
		var dst io.Writer = in
		if w.wrap != nil {
			dst = w.wrap(in)
		}
		// A node that stops reading early (the file changed since the
		// check) ends the session; its answer says why.
		_, _ = dst.Write(stdin)
		in.Close()
	}()
	err = sess.Wait()
	sess.Close()
	<-fed
	if ctx.Err() != nil {
		return stdout.String(), fmt.Errorf("connection closed: %w", ctx.Err())
	}
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = strings.TrimSpace(stdout.String())
		}
		return stdout.String(), fmt.Errorf("%w: %s", err, Escape(truncate(msg, 300)))
	}
	return stdout.String(), nil
}

// fileScript is the shell script that writes (tmp set: the content comes
// on stdin) or removes op.path on the node, or, in a dry run, only
// compares. It needs a POSIX shell, sha256sum and, to write, /proc. It
// reaches the file's directory from / one component at a time, refusing
// any that is a symbolic link or not a directory (cd -P, then pwd -P must
// be the path as named), and works inside it with relative names, so that
// a directory on the path swapped for a link cannot lead it elsewhere. It
// compares the live file with the state the check saw before it starts
// and again just before the rename or removal, when it also checks that
// the directory is still the one the path names. The content goes to a
// temporary file in the same directory, created exclusively and kept open,
// which is checked against the content's hash (a connection that drops
// mid-way leaves it short), given its owner and mode and synced through
// that open descriptor (/proc/self/fd: never through a name that could
// have been swapped for a link), then renamed over the path: the path
// holds the old file or the new one, never a part. A temporary file is
// removed when the script ends or is interrupted; one left by a script
// that was killed is removed by the next write to that directory.
func fileScript(op fileOp, tmp string) string {
	dir := path.Dir(op.path)
	var b strings.Builder
	b.WriteString("set -f; umask 077; unset CDPATH; ")
	// f is the path, n its name relative to the directory.
	fmt.Fprintf(&b, "f=%s; d=%s; old=%s; n=\"./${f##*/}\"; ", shellQuote(op.path), shellQuote(dir), shellQuote(op.live))
	b.WriteString(`answer() { echo "` + applyMarker + ` $*"; }; `)
	b.WriteString(`command -v sha256sum >/dev/null 2>&1 || { answer error sha256sum is not installed on the node; exit 1; }; `)
	b.WriteString(`bad() { answer error "$1" 'is a symbolic link or not a directory: apply writes only through real directories, never through a link; fix it by hand'; exit 1; }; `)
	// into enters $d from /, component by component; with an argument it
	// creates missing directories, without it it returns 1 at the first.
	b.WriteString(`into() { mk=$1; cd / || exit 1; p=; IFS=/; set -- $d; unset IFS; for c in "$@"; do [ -n "$c" ] || continue; p=$p/$c; ` +
		`if [ ! -e "./$c" ] && [ ! -L "./$c" ]; then [ -n "$mk" ] || return 1; (umask 022 && mkdir -- "./$c") || exit 1; fi; ` +
		`cd -P -- "./$c" 2>/dev/null && [ "$(pwd -P)" = "$p" ] || bad "$p"; done; here; }; `)
	// here checks that the working directory is still $d as named.
	b.WriteString(`here() { [ "$(pwd -P)" = "$d" ] || bad "$d"; }; `)
	b.WriteString(`live() { if [ -L "$n" ]; then echo ` + liveOther + `; elif [ ! -e "$n" ]; then echo ` + liveAbsent +
		`; elif [ -f "$n" ]; then s=$(sha256sum <"$n") || exit 1; echo "${s%% *}"; else echo ` + liveOther + `; fi; }; `)
	b.WriteString(`in=; into && in=1; `)
	b.WriteString(`same() { now=` + liveAbsent + `; if [ -n "$in" ]; then now=$(live) || { answer error cannot read the file; exit 1; }; fi; ` +
		`[ "$now" = "$old" ] || { answer changed "$now"; exit 0; }; }; `)
	b.WriteString("same; ")
	switch {
	case op.dryRun:
		b.WriteString("answer ok")
	case op.want == nil:
		b.WriteString(`[ -n "$in" ] || { answer ok; exit 0; }; here; rm -f -- "$n" || exit 1; sync -- . 2>/dev/null || sync; answer ok`)
	default:
		fmt.Fprintf(&b, "t=%s; new=%s; ", shellQuote("./"+path.Base(tmp)), sha256hex(op.want.Content))
		b.WriteString(`[ -n "$in" ] || { into mk; in=1; }; `)
		b.WriteString(`trap 'rm -f -- "$t"' EXIT; trap 'rm -f -- "$t"; exit 1' HUP INT TERM PIPE; `)
		b.WriteString(`set +f; for s in ./` + tempPrefix + `*` + tempSuffix + `; do [ -f "$s" ] && [ ! -L "$s" ] && rm -f -- "$s"; done; set -f; `)
		b.WriteString(`set -C; exec 3>"$t" || exit 1; set +C; cat >&3 || exit 1; `)
		b.WriteString(`s=$(sha256sum </proc/self/fd/3) || exit 1; [ "${s%% *}" = "$new" ] || { answer error the content arrived incomplete; exit 1; }; `)
		fmt.Fprintf(&b, "chown -- %s /proc/self/fd/3 && chmod -- %s /proc/self/fd/3 || exit 1; ", shellQuote(op.want.Owner+":"+op.want.Group), octal(op.want.Mode))
		b.WriteString(`sync -- /proc/self/fd/3 2>/dev/null || sync; exec 3>&-; `)
		b.WriteString(`same; here; mv -f -- "$t" "$n" || exit 1; sync -- . 2>/dev/null || sync; answer ok`)
	}
	return b.String()
}

func sha256hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// ---- local ----

func (t localTransport) openWriter(_ context.Context, rec *nodeRecord, _ func(io.Writer) io.Writer) (nodeWriter, error) {
	if rec.host.Name != t.node {
		return nil, fmt.Errorf("not the local node (%s)", t.node)
	}
	root, err := os.OpenRoot(t.root)
	if err != nil {
		return nil, fmt.Errorf("open host root: %w", err)
	}
	fd, err := openat(unix.AT_FDCWD, t.root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		root.Close()
		return nil, fmt.Errorf("open host root: %w", &fs.PathError{Op: "open", Path: t.root, Err: err})
	}
	return &localWriter{root: root, fd: fd}, nil
}

// localWriter changes the files of the node driftd runs on, through its
// mounted root, with the same steps as the SSH script. It reaches a file's
// directory one component at a time without following symbolic links
// (openat with O_NOFOLLOW|O_DIRECTORY), and creates, renames and removes
// files relative to that directory's descriptor: a directory on the path
// swapped for a link after the check cannot lead a write or a removal
// outside the directory as named, and so outside layers.node.scopes.
type localWriter struct {
	// root reads the host's account names.
	root *os.Root
	// fd is the host root's directory.
	fd int
}

func (w *localWriter) close() {
	w.root.Close()
	_ = unix.Close(w.fd)
}

// linkedDirError says that a directory on a path is a symbolic link, or
// not a directory: apply does not go through it.
type linkedDirError struct{ dir string }

func (e *linkedDirError) Error() string {
	return Escape(e.dir) + " is a symbolic link or not a directory: apply writes only through real directories, never through a link; fix it by hand"
}

// openat is unix.Openat, tried again when a signal interrupts it.
func openat(dirfd int, name string, flags int, mode uint32) (int, error) {
	for {
		fd, err := unix.Openat(dirfd, name, flags, mode)
		if !errors.Is(err, unix.EINTR) {
			return fd, err
		}
	}
}

const dirFlags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC

// openDir opens dir, a path relative to the host root, one component at a
// time, never following a symbolic link. With create it makes missing
// directories (mode 0755, less the umask); otherwise a missing one is an
// error that matches fs.ErrNotExist. The caller closes the descriptor.
func (w *localWriter) openDir(dir string, create bool) (int, error) {
	fd, err := openat(w.fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("open host root: %w", err)
	}
	shown := ""
	for _, c := range strings.Split(dir, "/") {
		if c == "" || c == "." {
			continue
		}
		shown += "/" + c
		if c == ".." {
			_ = unix.Close(fd)
			return -1, fmt.Errorf("%s: a path with .. in it", Escape(shown))
		}
		next, err := openat(fd, c, dirFlags, 0)
		if errors.Is(err, unix.ENOENT) && create {
			if err = unix.Mkdirat(fd, c, 0o755); err == nil || errors.Is(err, unix.EEXIST) {
				next, err = openat(fd, c, dirFlags, 0)
			}
		}
		_ = unix.Close(fd)
		switch {
		case err == nil:
			fd = next
		case errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR):
			return -1, &linkedDirError{dir: shown}
		default:
			return -1, &fs.PathError{Op: "open", Path: Escape(shown), Err: err}
		}
	}
	return fd, nil
}

// stillAt checks that dir, walked again from the host root, is still the
// directory open as fd: that no directory on its path was replaced while
// apply worked in it.
func (w *localWriter) stillAt(dir string, fd int) error {
	now, err := w.openDir(dir, false)
	if err != nil {
		return err
	}
	defer unix.Close(now)
	var a, b unix.Stat_t
	if err := unix.Fstat(fd, &a); err != nil {
		return err
	}
	if err := unix.Fstat(now, &b); err != nil {
		return err
	}
	if a.Dev != b.Dev || a.Ino != b.Ino {
		return fmt.Errorf("/%s was replaced while apply worked in it: nothing was written; check again", Escape(strings.TrimSuffix(dir, "/")))
	}
	return nil
}

func (w *localWriter) file(ctx context.Context, op fileOp) (string, bool, error) {
	rel := strings.TrimPrefix(op.path, "/")
	dir, base := path.Split(rel)
	if base == "" || base == "." || base == ".." {
		return "", false, fmt.Errorf("%s: not a file's path", Escape(op.path))
	}
	now := liveAbsent
	d, err := w.openDir(dir, false)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// A directory on the path is missing, and so is the file.
		d = -1
	case err != nil:
		return "", false, err
	default:
		defer func() { _ = unix.Close(d) }()
		if now, err = w.live(d, base); err != nil {
			return "", false, err
		}
	}
	if now != op.live || op.dryRun {
		return now, now == op.live, nil
	}
	if op.want == nil {
		if d < 0 {
			return now, true, nil // nothing there to remove
		}
		if err := w.stillAt(dir, d); err != nil {
			return "", false, err
		}
		if err := unix.Unlinkat(d, base, 0); err != nil {
			return "", false, &fs.PathError{Op: "remove", Path: Escape(op.path), Err: err}
		}
		return now, true, fsyncDir(d, dir)
	}
	uid, gid, err := w.ids(op.want.Owner, op.want.Group)
	if err != nil {
		return "", false, err
	}
	if d < 0 {
		if d, err = w.openDir(dir, true); err != nil {
			return "", false, err
		}
		defer func() { _ = unix.Close(d) }()
	}
	w.removeStale(d)
	tmp := tempBase()
	tfd, err := openat(d, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return "", false, &fs.PathError{Op: "create", Path: Escape(path.Join("/", dir, tmp)), Err: err}
	}
	renamed := false
	defer func() {
		if !renamed {
			_ = unix.Unlinkat(d, tmp, 0)
		}
	}()
	// Owner, mode and sync go through the descriptor, never the name.
	f := os.NewFile(uintptr(tfd), path.Join("/", dir, tmp))
	_, err = f.Write(op.want.Content)
	if err == nil {
		err = f.Chown(uid, gid)
	}
	if err == nil {
		err = f.Chmod(op.want.Mode.Perm())
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		return "", false, err
	}
	if now, err = w.live(d, base); err != nil || now != op.live {
		return now, false, err
	}
	if err := w.stillAt(dir, d); err != nil {
		return "", false, err
	}
	if err := unix.Renameat(d, tmp, d, base); err != nil {
		return "", false, &fs.PathError{Op: "rename", Path: Escape(op.path), Err: err}
	}
	renamed = true
	return now, true, fsyncDir(d, dir)
}

// live returns the state of base in the directory open as d: liveAbsent,
// liveOther or the SHA-256 of its content, which it reads without
// following a link.
func (w *localWriter) live(d int, base string) (string, error) {
	var st unix.Stat_t
	err := unix.Fstatat(d, base, &st, unix.AT_SYMLINK_NOFOLLOW)
	switch {
	case errors.Is(err, unix.ENOENT):
		return liveAbsent, nil
	case err != nil:
		return "", &fs.PathError{Op: "stat", Path: Escape(base), Err: err}
	case st.Mode&unix.S_IFMT != unix.S_IFREG:
		return liveOther, nil
	}
	fd, err := openat(d, base, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", &fs.PathError{Op: "open", Path: Escape(base), Err: err}
	}
	f := os.NewFile(uintptr(fd), base)
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return liveOther, err
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// removeStale removes apply's temporary files that a write cut short left
// in the directory open as d.
func (w *localWriter) removeStale(d int) {
	fd, err := openat(d, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	f := os.NewFile(uintptr(fd), ".")
	names, _ := f.Readdirnames(-1)
	f.Close()
	for _, name := range names {
		var st unix.Stat_t
		if isTemp(name) && unix.Fstatat(d, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFREG {
			_ = unix.Unlinkat(d, name, 0)
		}
	}
}

// fsyncDir makes a rename or removal in the directory open as d durable.
func fsyncDir(d int, dir string) error {
	if err := unix.Fsync(d); err != nil {
		return &fs.PathError{Op: "sync", Path: Escape(path.Join("/", dir)), Err: err}
	}
	return nil
}

// ids maps an owner and group to the host's ids, by the mounted root's
// /etc/passwd and /etc/group first, as the check names them.
func (w *localWriter) ids(owner, group string) (int, int, error) {
	uid, ok := lookupName(w.root, "etc/passwd", owner)
	if !ok {
		if u, err := user.Lookup(owner); err == nil {
			uid, ok = u.Uid, true
		} else if _, err := strconv.Atoi(owner); err == nil {
			uid, ok = owner, true
		}
	}
	gid, gok := lookupName(w.root, "etc/group", group)
	if !gok {
		if g, err := user.LookupGroup(group); err == nil {
			gid, gok = g.Gid, true
		} else if _, err := strconv.Atoi(group); err == nil {
			gid, gok = group, true
		}
	}
	if !ok || !gok {
		return 0, 0, fmt.Errorf("owner %s:%s is not known on the node", owner, group)
	}
	u, err := strconv.Atoi(uid)
	if err != nil {
		return 0, 0, fmt.Errorf("owner %s: id %q", owner, uid)
	}
	g, err := strconv.Atoi(gid)
	if err != nil {
		return 0, 0, fmt.Errorf("group %s: id %q", group, gid)
	}
	return u, g, nil
}

// lookupName finds the id of name in a passwd- or group-format file.
func lookupName(host *os.Root, file, name string) (string, bool) {
	f, err := host.Open(file)
	if err != nil {
		return "", false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), ":")
		if len(fields) > 2 && fields[0] == name {
			return fields[2], true
		}
	}
	return "", false
}

// command runs cmd with sh in driftd's own container.
func (w *localWriter) command(ctx context.Context, cmd string) error {
	c := exec.CommandContext(ctx, "sh", "-c", cmd)
	out := &boundedBuffer{max: maxStderr}
	c.Stdout, c.Stderr = out, out
	c.WaitDelay = 5 * time.Second
	if err := c.Run(); err != nil {
		return fmt.Errorf("%w: %s", err, Escape(truncate(strings.TrimSpace(out.String()), 300)))
	}
	return nil
}
