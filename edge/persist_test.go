package edge_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tern-cdn/tern/cmd/tern/node"
	"github.com/tern-cdn/tern/configs"
	"github.com/tern-cdn/tern/internal/testkit"
)

// childEnv makes the test binary run one node of a topology (for the
// crash test): TERN_CHILD_TOPOLOGY, TERN_CHILD_NODE, TERN_CHILD_DATA.
const childEnv = "TERN_CHILD_TOPOLOGY"

// runChildNode runs the node and prints "listening ADDR" once it listens.
func runChildNode() int {
	t, err := configs.Load(os.Getenv(childEnv))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ref, ok := t.Lookup(os.Getenv("TERN_CHILD_NODE"))
	if !ok {
		fmt.Fprintln(os.Stderr, "no node")
		return 2
	}
	n, err := node.New(t, ref, node.Options{DataDir: os.Getenv("TERN_CHILD_DATA")})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	fmt.Println("listening", n.Listen)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	if err := n.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// objectBody is the deterministic content of test object i.
func objectBody(i int) []byte {
	sizes := []int{700, 5_000, 70_000, 200_000, 900_000}
	return randomBody(sizes[i%len(sizes)], uint64(i)+100)
}

// persistOrigin serves /o/N with objectBody(N), Range-capable.
func persistOrigin(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/o/"))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "max-age=3600")
		w.Header().Set("ETag", fmt.Sprintf(`"o%d"`, i))
		http.ServeContent(w, r, "", time.Time{}, strings.NewReader(string(objectBody(i))))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// persistTopology writes a one-edge topology with a disk tier in front of
// origin and returns its path.
func persistTopology(t *testing.T, origin string) string {
	t.Helper()
	tp := testkit.OneEdge(origin)
	tp.Extra = diskCache
	return tp.WriteFile(t)
}

// diskCache is a cache section with a small memory tier and a disk tier.
const diskCache = `cache:
  memory: 4MiB
  max_object_size: 1MiB
  slice_size: 64KiB
  disk: 64MiB
`

type childNode struct {
	cmd  *exec.Cmd
	addr string
}

func startChild(t *testing.T, topology, data string) *childNode {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+topology, "TERN_CHILD_NODE=edge-1", "TERN_CHILD_DATA="+data)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "listening ") {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child did not start: %q %v", line, err)
	}
	go io.Copy(io.Discard, out)
	return &childNode{cmd: cmd, addr: strings.TrimSpace(strings.TrimPrefix(line, "listening "))}
}

func (c *childNode) get(path string, hdr ...string) (int, []byte, http.Header, error) {
	req, _ := http.NewRequest("GET", "http://"+c.addr+path, nil)
	req.Host = "www.cdn.test"
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header, err
}

// TestRestartKeepsCache stops a node gracefully and starts it again on the
// same data directory: what was cached is a hit, with its age carried on.
func TestRestartKeepsCache(t *testing.T) {
	origin := persistOrigin(t)
	top, data := persistTopology(t, origin.URL), t.TempDir()
	c := startChild(t, top, data)
	for i := 0; i < 10; i++ {
		if code, b, _, err := c.get(fmt.Sprintf("/o/%d", i)); err != nil || code != 200 || string(b) != string(objectBody(i)) {
			t.Fatalf("object %d: %d %v", i, code, err)
		}
	}
	c.cmd.Process.Signal(syscall.SIGTERM)
	if err := c.cmd.Wait(); err != nil {
		t.Fatalf("graceful stop: %v", err)
	}
	time.Sleep(1100 * time.Millisecond) // so the age visibly grows
	c = startChild(t, top, data)
	defer func() { c.cmd.Process.Kill(); c.cmd.Wait() }()
	for i := 0; i < 10; i++ {
		code, b, h, err := c.get(fmt.Sprintf("/o/%d", i), "Cache-Control", "only-if-cached")
		if err != nil || code != 200 || string(b) != string(objectBody(i)) {
			t.Fatalf("object %d after restart: %d %v (%s)", i, code, err, h.Get("Cache-Status"))
		}
		if age, _ := strconv.Atoi(h.Get("Age")); age < 1 {
			t.Errorf("object %d: Age %q after a restart more than 1s later", i, h.Get("Age"))
		}
	}
}

// TestCrashNeverServesTornObjects kills a node with SIGKILL while it
// stores objects, restarts it on the same directory, and checks that
// every object it serves from its cache is byte-exact.
func TestCrashNeverServesTornObjects(t *testing.T) {
	if testing.Short() {
		t.Skip("crash rounds take a few seconds")
	}
	origin := persistOrigin(t)
	top, data := persistTopology(t, origin.URL), t.TempDir()
	rng := rand.New(rand.NewPCG(11, 11))
	const objects = 60
	served := 0
	for round := 0; round < 4; round++ {
		c := startChild(t, top, data)
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for g := 0; g < 4; g++ {
			wg.Add(1)
			go func(seed uint64) {
				defer wg.Done()
				r := rand.New(rand.NewPCG(seed, seed))
				for {
					select {
					case <-stop:
						return
					default:
					}
					c.get(fmt.Sprintf("/o/%d", r.IntN(objects)))
				}
			}(uint64(round*10 + g))
		}
		time.Sleep(time.Duration(150+rng.IntN(500)) * time.Millisecond)
		c.cmd.Process.Signal(syscall.SIGKILL)
		c.cmd.Wait()
		close(stop)
		wg.Wait()

		c = startChild(t, top, data)
		for i := 0; i < objects; i++ {
			code, b, h, err := c.get(fmt.Sprintf("/o/%d", i), "Cache-Control", "only-if-cached")
			if err != nil {
				t.Fatalf("round %d object %d: %v", round, i, err)
			}
			switch code {
			case 200:
				served++
				if string(b) != string(objectBody(i)) {
					t.Fatalf("round %d: object %d served torn or mixed after SIGKILL (%d bytes, want %d; %s)",
						round, i, len(b), len(objectBody(i)), h.Get("Cache-Status"))
				}
			case 504:
			default:
				t.Fatalf("round %d object %d: status %d", round, i, code)
			}
		}
		c.cmd.Process.Kill()
		c.cmd.Wait()
	}
	if served == 0 {
		t.Fatal("nothing survived any restart: the cache is not persistent")
	}
	t.Logf("%d objects served from the cache after SIGKILL restarts, all byte-exact", served)
}
