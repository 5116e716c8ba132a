package store

import (
	"fmt"
	"runtime"
	"testing"
	"time"
)

// BenchmarkDeleteTag100k purges one tag carried by 100,000 of 200,000
// objects, in the memory tier and in the disk tier, and reports the
// purge's time and the heap the tag index holds per tagged object.
func BenchmarkDeleteTag100k(b *testing.B) {
	const tagged, untagged = 100_000, 100_000
	b.Run("memory", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			m, err := NewMemory(1 << 30)
			if err != nil {
				b.Fatal(err)
			}
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			for i := range tagged + untagged {
				e := bodyEntry(100)
				if i < tagged {
					e.SurrogateKeys = []string{"t"}
				}
				m.Set(fmt.Sprintf("https://www.cdn.test/obj/%d", i), e, time.Hour)
			}
			runtime.GC()
			runtime.ReadMemStats(&after)
			m.tags.mu.Lock()
			indexed := len(m.tags.keyOf)
			m.tags.mu.Unlock()
			b.StartTimer()
			n := m.DeleteTag("t", nil)
			b.StopTimer()
			if n != indexed || n < tagged*9/10 {
				b.Fatalf("DeleteTag removed %d, %d indexed of %d", n, indexed, tagged)
			}
			b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(tagged+untagged), "heap-B/object")
			m.Close()
			b.StartTimer()
		}
	})
	b.Run("disk", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			d := openTestDisk(b, DiskConfig{MaxBytes: 8 << 30})
			// Records without bodies, 10,000 per transaction: the index's
			// cost alone, built without a sync per object.
			for start := 0; start < tagged+untagged; start += 10_000 {
				_, err := d.update(func(x *indexTx) error {
					for i := start; i < start+10_000; i++ {
						e := bodyEntry(0)
						if i < tagged {
							e.SurrogateKeys = []string{"t"}
						}
						now := time.Now().UnixNano()
						r := record{stamp: now, expiry: now + int64(time.Hour), id: fileID{d.epoch, d.seq.Add(1)},
							meta: encodeEntry(nil, e), tags: e.SurrogateKeys}
						if err := x.put(fmt.Sprintf("https://www.cdn.test/obj/%d", i), r.append(nil), r); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			b.StartTimer()
			n := d.DeleteTag("t", nil)
			b.StopTimer()
			runtime.ReadMemStats(&after)
			if n != tagged {
				b.Fatalf("DeleteTag removed %d of %d", n, tagged)
			}
			b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/(1<<20), "alloc-MiB/purge")
			b.StartTimer()
		}
	})
}
