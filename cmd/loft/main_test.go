package main

import (
	"os"
	"syscall"
	"testing"
)

// TestHandleSignals: Ctrl-C goes to a command that took it over, as often
// as it comes; without one, or on SIGTERM, the run is cancelled once and
// the default handlers come back.
func TestHandleSignals(t *testing.T) {
	for _, tc := range []struct {
		name       string
		sigs       []os.Signal
		taken      bool
		cancelled  bool
		interrupts int
	}{
		{"Ctrl-C taken over", []os.Signal{os.Interrupt, os.Interrupt}, true, false, 2},
		{"Ctrl-C", []os.Signal{os.Interrupt, os.Interrupt}, false, true, 1},
		{"SIGTERM while taken over", []os.Signal{syscall.SIGTERM}, true, true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sigs := make(chan os.Signal, len(tc.sigs))
			for _, s := range tc.sigs {
				sigs <- s
			}
			close(sigs)
			interrupts, cancels, restores := 0, 0, 0
			handleSignals(sigs, func() bool { interrupts++; return tc.taken }, func() { cancels++ }, func() { restores++ })
			if interrupts != tc.interrupts || (cancels == 1) != tc.cancelled || cancels > 1 || restores != cancels {
				t.Errorf("interrupts %d, cancels %d, restores %d; want %d interrupts, cancelled %v (once, with a restore)", interrupts, cancels, restores, tc.interrupts, tc.cancelled)
			}
		})
	}
}
