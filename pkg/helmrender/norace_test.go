//go:build !race

package helmrender

const raceEnabled = false
