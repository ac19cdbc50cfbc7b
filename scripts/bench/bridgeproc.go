package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/line-sf-bridge/bridge/scripts/bench/harness"
)

// Credentials of the fake LINE platform; they only ever reach linesim.
const (
	lineSecret = "bench-channel-secret"
	lineToken  = "bench-channel-token"
)

// bridgeProc is one bridge process under test.
type bridgeProc struct {
	child     *harness.Child
	url       string
	pprofAddr string // self mode only
	prefix    string
	hc        *http.Client
}

type bridgeSpec struct {
	name      string
	mode      string // "binary" (cmd/bridge) or "self"
	binary    string // cmd/bridge binary (mode binary)
	redisURL  string
	prefix    string
	simURL    string
	lineURL   string
	pprof     bool
	logDir    string
	extraEnv  []string
	readyWait time.Duration
}

func startBridge(ctx context.Context, s bridgeSpec) (*bridgeProc, error) {
	port, err := harness.FreePort()
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	env := []string{
		"REDIS_URL=" + s.redisURL, "REDIS_KEY_PREFIX=" + s.prefix,
		"LIVEAGENT_HOST=" + s.simURL, "LIVEAGENT_ORGANIZATION_ID=00D000000000001", "LIVEAGENT_DEPLOYMENT_ID=572000000000001",
		"LIVEAGENT_BUTTON_ID=573000000000001", "LINE_CHANNEL_SECRET=" + lineSecret, "LINE_CHANNEL_TOKEN=" + lineToken,
		"LINE_API_BASE_URL=" + s.lineURL, "LINE_DATA_API_BASE_URL=" + s.lineURL,
		"RATE_LIMIT_RPS=0", "LOG_LEVEL=warn", "LOG_FORMAT=json", "MESSAGES_WAIT=25s", "SHUTDOWN_TIMEOUT=25s",
	}
	env = append(env, s.extraEnv...)
	p := &bridgeProc{url: "http://" + addr, prefix: s.prefix}
	var path string
	var args []string
	switch s.mode {
	case "self":
		exe, err := os.Executable()
		if err != nil {
			return nil, err
		}
		path, args = exe, []string{"-role=bridge", "-addr=" + addr}
		if s.pprof {
			pp, err := harness.FreePort()
			if err != nil {
				return nil, err
			}
			p.pprofAddr = "127.0.0.1:" + strconv.Itoa(pp)
			env = append(env, "BENCH_PPROF_ADDR="+p.pprofAddr)
		}
	default:
		path, args = s.binary, []string{"--addr", addr}
	}
	c, err := harness.StartChild(s.name, path, args, env, filepath.Join(s.logDir, s.name+".log"))
	if err != nil {
		return nil, err
	}
	p.child = c
	p.hc = &http.Client{Transport: &http.Transport{MaxIdleConns: 4096, MaxIdleConnsPerHost: 4096, IdleConnTimeout: time.Minute}}
	wctx, cancel := context.WithTimeout(ctx, max(s.readyWait, 30*time.Second))
	defer cancel()
	if err := harness.WaitHTTP(wctx, p.url+"/readyz", c); err != nil {
		c.Kill()
		return nil, err
	}
	return p, nil
}

// metrics scrapes /metrics into name{labels} → value.
func (p *bridgeProc) metrics(ctx context.Context) (map[string]float64, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.url+"/metrics", nil)
	res, err := p.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if l == "" || l[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(l, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(l[i+1:], 64)
		if err == nil {
			out[l[:i]] = v
		}
	}
	return out, sc.Err()
}

// waitMetric waits until metric m satisfies ok.
func (p *bridgeProc) waitMetric(ctx context.Context, m string, ok func(float64) bool, timeout time.Duration) (float64, error) {
	deadline := time.Now().Add(timeout)
	for {
		ms, err := p.metrics(ctx)
		if err == nil && ok(ms[m]) {
			return ms[m], nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return ms[m], fmt.Errorf("metric %s: last value %v: not reached within %s", m, ms[m], timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *bridgeProc) sample() harness.ProcSample {
	s, _ := harness.ReadProc(p.child.Pid())
	return s
}

// stop sends SIGTERM and reports how long the bridge took to exit.
func (p *bridgeProc) stop() time.Duration {
	start := time.Now()
	if !p.child.Stop(30 * time.Second) {
		return -1
	}
	return time.Since(start)
}

// fetch GETs url into path.
func fetch(ctx context.Context, url, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(res.Body, 512))
		return fmt.Errorf("GET %s: %d %s", url, res.StatusCode, b)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, res.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
