package report

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/driftd/driftd/pkg/drift"
)

// TextOptions controls the text renderer.
type TextOptions struct {
	// Color adds ANSI colours, as git and terraform do on a terminal.
	Color bool
	// ShowIgnored lists the findings that ignore rules silenced, with
	// their rule, after the drift.
	ShowIgnored bool
}

const (
	ansiReset  = "\x1b[0m"
	ansiBold   = "\x1b[1m"
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiCyan   = "\x1b[36m"
)

type painter bool

func (p painter) paint(code, s string) string {
	if !p || s == "" {
		return s
	}
	return code + s + ansiReset
}

func (p painter) status(s drift.Status) string {
	switch s {
	case drift.StatusInSync:
		return p.paint(ansiGreen, string(s))
	case drift.StatusDrifted:
		return p.paint(ansiYellow, string(s))
	default:
		return p.paint(ansiRed, string(s))
	}
}

// WriteText writes a summary table of every target, then each finding with
// its unified diff, then one summary line.
//
// In a check against a base revision (r.Base set) the findings are grouped
// by class, collision first, after a line with the count of each class;
// each group opens with what its class means, the config change
// (r.Config) comes before them all, and a finding whose details name who
// changed the object live (changed_by) says who and when.
func WriteText(w io.Writer, r drift.Report, o TextOptions) error {
	p := painter(o.Color)
	var b strings.Builder
	fmt.Fprintf(&b, "Revision %s", shortRev(r.Revision))
	if r.Source.URL != "" {
		fmt.Fprintf(&b, " of %s", line(r.Source.URL))
		if r.Source.Branch != "" {
			fmt.Fprintf(&b, " (branch %s)", line(r.Source.Branch))
		}
	}
	b.WriteString("\n")
	if r.Base != nil {
		fmt.Fprintf(&b, "Base %s (%s)\n", line(r.Base.Ref), shortRev(r.Base.Revision))
	}
	if !r.Source.Synced {
		msg := "Warning: the repository could not be synced"
		if r.Revision != "" {
			msg += "; checked the last good revision instead"
		}
		fmt.Fprintf(&b, "%s:\n  %s\n", p.paint(ansiRed, msg), line(r.Source.Error))
	}
	for _, n := range r.Notices {
		fmt.Fprintf(&b, "%s %s\n", p.paint(ansiYellow, "Notice:"), line(n))
	}
	b.WriteString("\n")

	if len(r.Layers) > 0 {
		var tb strings.Builder
		tw := tabwriter.NewWriter(&tb, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "LAYER\tTARGET\tSTATUS\tFINDINGS\tERROR")
		for _, l := range r.Layers {
			if l.Error != "" {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", line(string(l.Layer)), "*", p.status(drift.StatusUnknown), "-", line(firstLine(l.Error)))
			}
			for _, t := range l.Targets {
				n := fmt.Sprint(len(t.Findings))
				if t.Status == drift.StatusUnknown && len(t.Findings) == 0 {
					n = "-"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", line(string(l.Layer)), line(t.Name), p.status(t.Status), n, line(firstLine(t.Error)))
			}
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		for _, row := range strings.Split(strings.TrimSuffix(tb.String(), "\n"), "\n") {
			b.WriteString(strings.TrimRight(row, " ") + "\n")
		}
	}

	for _, l := range r.Layers {
		if l.Error != "" && strings.Contains(l.Error, "\n") {
			fmt.Fprintf(&b, "\n%s %s:\n%s\n", p.paint(ansiBold, "Error in layer"), line(string(l.Layer)), indent(block(l.Error)))
		}
		for _, t := range l.Targets {
			if t.Error != "" && strings.Contains(t.Error, "\n") {
				fmt.Fprintf(&b, "\n%s %s/%s:\n%s\n", p.paint(ansiBold, "Error in"), line(string(l.Layer)), line(t.Name), indent(block(t.Error)))
			}
			if r.Base != nil {
				continue // listed by class below
			}
			for _, f := range t.Findings {
				writeTextFinding(&b, l.Layer, t.Name, f, "", p)
			}
		}
	}
	if r.Base != nil {
		writeTextClasses(&b, r, p)
	}

	if o.ShowIgnored {
		for _, l := range r.Layers {
			for _, t := range l.Targets {
				for _, f := range t.Ignored {
					by, _ := f.Details["ignored_by"].(string)
					fmt.Fprintf(&b, "\n%s %s (%s, ignored by %s)\n", p.paint(ansiBold, fmt.Sprintf("%s/%s:", line(string(l.Layer)), line(t.Name))), line(f.Object), line(string(f.Change)), line(by))
					writeDiff(&b, f.Diff, p)
				}
			}
		}
	}

	s := r.Summarize()
	fmt.Fprintf(&b, "\n%s %d finding(s); %d target(s) drifted, %d could not be checked, %d in sync.",
		p.paint(ansiBold, "Summary:"), s.Findings, s.Drifted, s.Unknown, s.InSync)
	switch {
	case s.Ignored > 0 && o.ShowIgnored:
		fmt.Fprintf(&b, " %d finding(s) ignored by rules, listed above.", s.Ignored)
	case s.Ignored > 0:
		fmt.Fprintf(&b, " %d finding(s) ignored by rules (--show-ignored lists them).", s.Ignored)
	}
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// writeTextFinding writes one finding's heading, a note if there is one,
// and its diff.
func writeTextFinding(b *strings.Builder, layer drift.LayerName, target string, f drift.Finding, note string, p painter) {
	fmt.Fprintf(b, "\n%s %s (%s)\n", p.paint(ansiBold, fmt.Sprintf("%s/%s:", line(string(layer)), line(target))), p.paint(ansiBold, line(f.Object)), line(string(f.Change)))
	if note != "" {
		b.WriteString("  " + note + "\n")
	}
	writeDiff(b, f.Diff, p)
}

// writeTextClasses writes the findings of a check against a base
// revision: the count of each class, the config change, then one group
// per class.
func writeTextClasses(b *strings.Builder, r drift.Report, p painter) {
	fmt.Fprintf(b, "\n%s %s\n", p.paint(ansiBold, "Classes:"), classCounts(r))
	if c := r.Config; c != nil {
		fmt.Fprintf(b, "\n%s %s (%s): %s.\n", p.paint(ansiBold, "Config change ("+classLabel(c.Class)+"):"), p.paint(ansiBold, line(c.Object)), line(string(c.Change)), configMeaning)
		writeDiff(b, c.Diff, p)
	}
	for _, g := range groupByClass(r) {
		title := fmt.Sprintf("%s (%d):", drift.Class(classLabel(g.class)).Title(), len(g.findings))
		fmt.Fprintf(b, "\n%s %s.\n", p.paint(ansiBold+p.classColor(g.class), title), classMeaning(g.class))
		for _, lf := range g.findings {
			writeTextFinding(b, lf.layer, lf.target, lf.f, changeNote(lf.f, line), p)
		}
	}
}

// classColor is the colour of a class's heading: red for what merging
// would break, yellow for drift, green for what the pull request fixes.
func (p painter) classColor(c drift.Class) string {
	if !p {
		return ""
	}
	switch c {
	case drift.ClassCollision:
		return ansiRed
	case drift.ClassResolved:
		return ansiGreen
	default:
		return ansiYellow
	}
}

func writeDiff(b *strings.Builder, diff string, p painter) {
	if diff == "" {
		return
	}
	for _, l := range strings.SplitAfter(strings.TrimSuffix(diff, "\n"), "\n") {
		text := safeText(strings.TrimSuffix(l, "\n"), "\t")
		switch {
		case strings.HasPrefix(text, "+++"), strings.HasPrefix(text, "---"):
			text = p.paint(ansiBold, text)
		case strings.HasPrefix(text, "@@"):
			text = p.paint(ansiCyan, text)
		case strings.HasPrefix(text, "+"):
			text = p.paint(ansiGreen, text)
		case strings.HasPrefix(text, "-"):
			text = p.paint(ansiRed, text)
		}
		b.WriteString("  " + text + "\n")
	}
}

func shortRev(r string) string {
	if r == "" {
		return "(none)"
	}
	if len(r) == 40 {
		return r[:12]
	}
	return r
}

func firstLine(s string) string {
	first, _, found := strings.Cut(s, "\n")
	if found {
		return first + " (…)"
	}
	return first
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n  ")
}
