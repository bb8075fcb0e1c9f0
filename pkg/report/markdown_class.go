package report

import (
	"fmt"
	"strings"

	"github.com/driftd/driftd/pkg/drift"
)

// MarkdownMarker starts the Markdown of a check against a base revision,
// so that a CI script can find the pull-request comment it posted before
// and update it in place.
const MarkdownMarker = "<!-- driftd-report -->"

// MarkdownLimit bounds the Markdown of a check against a base revision,
// in bytes. GitHub refuses a comment of more than 65,536 characters; a
// character is at least one byte, so counting bytes is on the safe side.
const MarkdownLimit = 65000

// Bounds on the parts of the Markdown that are not left out to fit
// MarkdownLimit, so that names and errors from live systems cannot crowd
// out the table.
const (
	mdMaxListed = 20    // targets that could not be checked, notices
	mdMaxName   = 200   // bytes of a name or a base ref
	mdMaxError  = 300   // bytes of an error's first line or a notice
	mdMaxDiff   = 20000 // bytes of one diff
)

// markdownByClass renders a check against a base revision; see
// WriteMarkdown.
func markdownByClass(r drift.Report) string {
	head := markdownClassHead(r)
	// One table row and one folded diff per finding, the config change
	// first; a diff is rendered only when there is room for it.
	type item struct {
		row    string
		detail func() string
	}
	var items []item
	if c := r.Config; c != nil {
		items = append(items, item{
			row: fmt.Sprintf("| %s | config | | %s | %s |\n", classLabel(c.Class), mdCode(clipLine(c.Object, mdMaxName)), mdWord(string(c.Change))),
			detail: func() string {
				summary := fmt.Sprintf("Config change: <code>%s</code> (%s)", htmlEscape(line(c.Object)), htmlEscape(line(string(c.Change))))
				return mdDetails(summary, upperFirst(configMeaning)+".", c.Diff)
			},
		})
	}
	for _, g := range groupByClass(r) {
		for _, lf := range g.findings {
			f := lf.f
			items = append(items, item{
				row: fmt.Sprintf("| %s | %s | %s | %s | %s |\n", classLabel(g.class), mdWord(string(lf.layer)), mdCode(lf.target), mdCode(f.Object), mdWord(string(f.Change))),
				detail: func() string {
					summary := fmt.Sprintf("%s: <code>%s/%s</code>: <code>%s</code> (%s)", drift.Class(classLabel(g.class)).Title(),
						htmlEscape(line(string(lf.layer))), htmlEscape(line(lf.target)), htmlEscape(line(f.Object)), htmlEscape(line(string(f.Change))))
					return mdDetails(summary, changeNote(f, mdCode), f.Diff)
				},
			})
		}
	}
	const tableHead = "\n| Class | Layer | Target | Object | Change |\n|---|---|---|---|---|\n"
	note := func(diffs, rows int) string {
		return fmt.Sprintf("\n> **Left out to stay within GitHub's comment size limit: %d diff(s) and %d table row(s).** The full report is in driftd's JSON or text output.\n", diffs, rows)
	}
	// The room a note takes is kept whether one is needed or not: it is
	// longest with every count at its largest.
	size := len(head) + len(note(len(items), len(items)))
	if len(items) > 0 {
		size += len(tableHead)
	}
	for _, it := range items {
		size += len(it.row)
	}
	// Rows go from the end while even the table does not fit; then
	// diffs are kept from the start for as long as they fit.
	rows := len(items)
	for size >= MarkdownLimit && rows > 0 {
		rows--
		size -= len(items[rows].row)
	}
	var details []string
	if rows == len(items) {
		for _, it := range items {
			d := it.detail()
			if size+len(d) >= MarkdownLimit {
				break
			}
			details = append(details, d)
			size += len(d)
		}
	}
	var b strings.Builder
	b.WriteString(head)
	if rows > 0 {
		b.WriteString(tableHead)
		for _, it := range items[:rows] {
			b.WriteString(it.row)
		}
	}
	for _, d := range details {
		b.WriteString(d)
	}
	if rows < len(items) || len(details) < len(items) {
		b.WriteString(note(len(items)-len(details), len(items)-rows))
	}
	return b.String()
}

// mdDetails folds a note and a diff in a <details> block under an HTML
// summary whose values are escaped already.
func mdDetails(summary, note, diff string) string {
	var d strings.Builder
	fmt.Fprintf(&d, "\n<details><summary>%s</summary>\n\n", summary)
	if note != "" {
		d.WriteString(note + "\n\n")
	}
	if diff != "" {
		d.WriteString(mdFence(capDiff(block(diff), mdMaxDiff)))
	}
	d.WriteString("\n</details>\n")
	return d.String()
}

// markdownClassHead is the part of the Markdown that is never left out:
// the marker, the heading with the count of each class, the revisions,
// what each class found means, and what could not be checked. Each value
// in it is clipped and each list bounded, so that it stays far below
// MarkdownLimit.
func markdownClassHead(r drift.Report) string {
	var b strings.Builder
	s := r.Summarize()
	b.WriteString(MarkdownMarker + "\n")
	fmt.Fprintf(&b, "### driftd: %s: %s\n\n", statusIcon[r.Status], classCounts(r))
	fmt.Fprintf(&b, "Revision `%s` against base %s (`%s`): %d finding(s); %d target(s) drifted, %d could not be checked, %d in sync.\n\n",
		shortRev(r.Revision), mdCode(clipLine(r.Base.Ref, mdMaxName)), shortRev(r.Base.Revision), s.Findings, s.Drifted, s.Unknown, s.InSync)
	if !r.Source.Synced {
		fmt.Fprintf(&b, "> **The repository could not be synced.** %s\n\n", mdCode(clipLine(r.Source.Error, mdMaxError)))
	}
	n := r.CountClasses()
	for _, c := range drift.Classes() {
		if n[c] > 0 {
			fmt.Fprintf(&b, "- **%s** (%d): %s.\n", c.Title(), n[c], classMeaning(c))
		}
	}
	var unknown []func() string
	for _, l := range r.Layers {
		if l.Error != "" {
			unknown = append(unknown, func() string {
				return fmt.Sprintf("- %s (the whole layer): %s\n", mdWord(string(l.Layer)), mdCode(clipLine(firstLine(l.Error), mdMaxError)))
			})
		}
		for _, t := range l.Targets {
			if t.Status == drift.StatusUnknown {
				unknown = append(unknown, func() string {
					return fmt.Sprintf("- %s %s: %s\n", mdWord(string(l.Layer)), mdCode(clipLine(t.Name, mdMaxName)), mdCode(clipLine(firstLine(t.Error), mdMaxError)))
				})
			}
		}
	}
	if len(unknown) > 0 {
		b.WriteString("\n**Could not be checked** (what they hold is not known, and may have drifted):\n\n")
		writeBounded(&b, unknown)
	}
	if len(r.Notices) > 0 {
		notices := make([]func() string, len(r.Notices))
		for i, nt := range r.Notices {
			notices[i] = func() string { return "- Notice: " + mdCode(clipLine(nt, mdMaxError)) + "\n" }
		}
		b.WriteString("\n")
		writeBounded(&b, notices)
	}
	if s.Findings == 0 && r.Config == nil {
		b.WriteString("\nNo finding: nothing differs from live.\n")
	}
	return b.String()
}

// writeBounded writes at most mdMaxListed list items, rendering only
// those, and how many more there are.
func writeBounded(b *strings.Builder, items []func() string) {
	for i, it := range items {
		if i == mdMaxListed {
			fmt.Fprintf(b, "- and %d more\n", len(items)-mdMaxListed)
			return
		}
		b.WriteString(it())
	}
}

// clipLine is line(s) clipped to n bytes, without escaping more of a
// long s than can be shown (an escape is at most six bytes a rune).
func clipLine(s string, n int) string {
	return clip(line(clip(s, 6*n)), n)
}

// mdWord shows one of driftd's own words (a layer, a change kind) as it
// is, and anything else as a code span.
func mdWord(s string) string {
	for _, r := range s {
		if (r < 'a' || r > 'z') && r != '_' {
			return mdCode(s)
		}
	}
	return s
}

// capDiff cuts a diff longer than n bytes at a line boundary and says how
// many lines were left out, so that one huge diff does not crowd all the
// others out of a comment.
func capDiff(d string, n int) string {
	if len(d) <= n {
		return d
	}
	cut := strings.LastIndexByte(d[:n], '\n') + 1
	kept := d[:cut]
	if cut == 0 { // one long line: cut it
		kept = clip(d, n) + "\n"
		cut = len(kept) - len("…\n")
	}
	rest := strings.Count(strings.TrimSuffix(d[cut:], "\n"), "\n") + 1
	return kept + fmt.Sprintf("… %d more line(s) left out here: the full diff is in driftd's JSON or text output\n", rest)
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
