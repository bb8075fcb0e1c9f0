package sopsfile

import (
	"github.com/getsops/sops/v3"
)

// walker goes over a tree the way sops' Tree.Decrypt walks it
// (TreeBranch.walkBranch and walkSlice), before that walk runs: it refuses
// nesting deeper than maxDepth and keys that are not strings, collects the
// comments (for valueCipher), and adds up what the walk will cost, to
// refuse a tree that would cost more than maxWalkWork. For each leaf, sops
// joins the keys of its path into the AES additional data, evaluates each
// path regular expression (encrypted_regex, unencrypted_regex) on each key
// of the path and each comment regular expression on each comment active
// at the leaf, compiling the regular expression each time.
type walker struct {
	f            Format
	pathRegex    int // cost of one evaluation, 0 without such a rule
	commentRegex int
	work         int
	// active comments, over all levels, as sops' commentsStack holds them
	active, activeBytes int
	comments            map[string]sops.Comment
}

// level is the part of the active comments one branch or slice added.
type level struct{ n, bytes int }

// regexCost is what one evaluation of a regular expression of n bytes
// counts as, in bytes of work: sops compiles it every time (regexp.Match),
// which takes several microseconds.
func regexCost(n int) int { return 2048 + 32*n }

func newWalker(f Format, md sops.Metadata) *walker {
	w := &walker{f: f, comments: make(map[string]sops.Comment)}
	if re := md.EncryptedRegex + md.UnencryptedRegex; re != "" {
		w.pathRegex = regexCost(len(re))
	}
	if re := md.EncryptedCommentRegex + md.UnencryptedCommentRegex; re != "" {
		w.commentRegex = regexCost(len(re))
	}
	return w
}

func (w *walker) walk(branches sops.TreeBranches) error {
	for _, b := range branches {
		if err := w.branch(b, 1, 0, 0); err != nil {
			return err
		}
	}
	return nil
}

func (w *walker) branch(b sops.TreeBranch, depth, pathLen, pathBytes int) error {
	if depth > maxDepth {
		return w.f.errorf(ErrTooLarge, "nesting deeper than %d", maxDepth)
	}
	var l level
	defer w.drop(&l)
	for _, item := range b {
		if c, ok := item.Key.(sops.Comment); ok {
			w.comment(&l, c)
			if err := w.leaf(pathLen, pathBytes); err != nil {
				return err
			}
			continue
		}
		c, valueIsComment := item.Value.(sops.Comment)
		if valueIsComment {
			w.comment(&l, c)
		}
		key, ok := item.Key.(string)
		if !ok {
			return w.f.errorf(ErrMalformed, "a key of type %T at depth %d: sops supports only string keys", item.Key, depth)
		}
		if err := w.value(item.Value, depth, pathLen+1, pathBytes+len(key)+1); err != nil {
			return err
		}
		if !valueIsComment {
			w.drop(&l)
		}
	}
	return nil
}

func (w *walker) slice(s []any, depth, pathLen, pathBytes int) error {
	if depth > maxDepth {
		return w.f.errorf(ErrTooLarge, "nesting deeper than %d", maxDepth)
	}
	var l level
	defer w.drop(&l)
	for _, v := range s {
		c, isComment := v.(sops.Comment)
		if isComment {
			w.comment(&l, c)
		}
		if err := w.value(v, depth, pathLen, pathBytes); err != nil {
			return err
		}
		if !isComment {
			w.drop(&l)
		}
	}
	return nil
}

func (w *walker) value(v any, depth, pathLen, pathBytes int) error {
	switch v := v.(type) {
	case sops.TreeBranch:
		return w.branch(v, depth+1, pathLen, pathBytes)
	case []any:
		return w.slice(v, depth+1, pathLen, pathBytes)
	case nil:
		return nil
	}
	return w.leaf(pathLen, pathBytes)
}

func (w *walker) comment(l *level, c sops.Comment) {
	l.n++
	l.bytes += len(c.Value)
	w.active++
	w.activeBytes += len(c.Value)
	w.comments[c.Value] = c
}

// drop ends the comments of level l, as sops empties the innermost
// commentsStack entry after a value and pops it after a branch or slice.
func (w *walker) drop(l *level) {
	w.active -= l.n
	w.activeBytes -= l.bytes
	*l = level{}
}

func (w *walker) leaf(pathLen, pathBytes int) error {
	w.work += pathBytes
	if w.pathRegex > 0 {
		w.work += pathLen*w.pathRegex + pathBytes
	}
	if w.commentRegex > 0 {
		w.work += w.active*w.commentRegex + w.activeBytes
	}
	if w.work > maxWalkWork {
		return w.f.errorf(ErrTooLarge, "decrypting the tree would cost more than %d units of work (keys joined into paths, path and comment rules evaluated)", maxWalkWork)
	}
	return nil
}
