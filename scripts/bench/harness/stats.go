package harness

import (
	"fmt"
	"slices"
	"sync"
	"time"
)

// Durations collects samples safely from many goroutines.
type Durations struct {
	mu sync.Mutex
	d  []time.Duration
}

// Add records one sample.
func (s *Durations) Add(d time.Duration) {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
}

// Summary returns the count and percentiles of the samples.
func (s *Durations) Summary() Summary {
	s.mu.Lock()
	d := slices.Clone(s.d)
	s.mu.Unlock()
	return Summarize(d)
}

// Summary is the distribution of a set of durations.
type Summary struct {
	N                       int
	Min, P50, P90, P99, Max time.Duration
	Mean                    time.Duration
}

// Summarize computes a Summary of d (d is sorted in place).
func Summarize(d []time.Duration) Summary {
	if len(d) == 0 {
		return Summary{}
	}
	slices.Sort(d)
	var sum time.Duration
	for _, v := range d {
		sum += v
	}
	q := func(p float64) time.Duration {
		i := int(p*float64(len(d))+0.5) - 1
		return d[min(max(i, 0), len(d)-1)]
	}
	return Summary{N: len(d), Min: d[0], P50: q(.50), P90: q(.90), P99: q(.99), Max: d[len(d)-1], Mean: sum / time.Duration(len(d))}
}

func (s Summary) String() string {
	if s.N == 0 {
		return "no samples"
	}
	return fmt.Sprintf("n=%d p50=%s p90=%s p99=%s max=%s", s.N, Ms(s.P50), Ms(s.P90), Ms(s.P99), Ms(s.Max))
}

// Ms formats d in milliseconds with two decimals.
func Ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond)) }

// MiB formats bytes in MiB.
func MiB(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// KiB formats bytes in KiB.
func KiB(b float64) string { return fmt.Sprintf("%.1f KiB", b/1024) }
