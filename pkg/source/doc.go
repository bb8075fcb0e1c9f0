// Package source provides the config repository at a revision: a go-git
// clone that follows its branch (force-pushes included) and keeps the last
// good checkout when a fetch fails, or a local checkout used as it is.
package source
