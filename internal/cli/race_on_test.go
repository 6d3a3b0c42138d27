//go:build race

package cli

// raceDetector tells whether the tests run under -race, whose shadow
// memory follows the heap's in the resident set and is not returned with
// it.
const raceDetector = true
