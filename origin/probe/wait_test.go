package probe

import (
	"testing"
	"time"
)

// Every wait stays within Interval × (1 ± Jitter), and the waits spread.
func TestJitterBounds(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		jitter   float64
		min, max time.Duration
	}{
		{0, 900 * time.Millisecond, 1100 * time.Millisecond}, // the default, 0.1
		{0.5, 500 * time.Millisecond, 1500 * time.Millisecond},
		{-1, time.Second, time.Second}, // none
	} {
		p, err := New(Config{Interval: time.Second, Jitter: tc.jitter}, nil, Options{})
		if err != nil {
			t.Fatal(err)
		}
		lo, hi := time.Duration(1<<62), time.Duration(0)
		for range 2000 {
			d := p.wait()
			if d < tc.min || d > tc.max {
				t.Fatalf("jitter %v: wait %v outside [%v, %v]", tc.jitter, d, tc.min, tc.max)
			}
			lo, hi = min(lo, d), max(hi, d)
		}
		// 2000 uniform draws cover most of the range.
		if spread := tc.max - tc.min; hi-lo < spread*9/10 {
			t.Errorf("jitter %v: waits within [%v, %v], want most of [%v, %v]", tc.jitter, lo, hi, tc.min, tc.max)
		}
	}
}
