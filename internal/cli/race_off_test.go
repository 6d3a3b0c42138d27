//go:build !race

package cli

// raceDetector tells whether the tests run under -race.
const raceDetector = false
