//go:build race

package byterange

const raceEnabled = true
