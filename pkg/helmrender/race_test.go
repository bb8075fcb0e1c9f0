//go:build race

package helmrender

// raceEnabled says the race detector is on: it changes how a child that
// runs out of memory dies.
const raceEnabled = true
