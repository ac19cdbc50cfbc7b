package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Child is a process started in its own process group, so that it and
// anything it starts can be signalled at once, and killed (SIGKILL) if this
// process dies first (Pdeathsig).
type Child struct {
	Name string
	Cmd  *exec.Cmd
	Log  string // file receiving stdout and stderr

	done chan struct{}
	err  error
	mu   sync.Mutex
}

// StartChild starts path with args and env (added to a minimal base
// environment), writing its output to logPath (appended).
func StartChild(name, path string, args, env []string, logPath string) (*Child, error) {
	lf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(path, args...)
	cmd.Env = append(baseEnv(), env...)
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		_ = lf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	c := &Child{Name: name, Cmd: cmd, Log: logPath, done: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		_ = lf.Close()
		c.mu.Lock()
		c.err = err
		c.mu.Unlock()
		close(c.done)
	}()
	return c, nil
}

// baseEnv passes on what a Go program or redis-server needs, and nothing
// that would configure the bridge by accident.
func baseEnv() []string {
	var out []string
	for _, k := range []string{"PATH", "HOME", "TMPDIR", "GOCOVERDIR", "GORACE", "GOMAXPROCS", "GOGC", "GOMEMLIMIT", "GODEBUG"} {
		if v, ok := os.LookupEnv(k); ok {
			out = append(out, k+"="+v)
		}
	}
	return out
}

// Pid is the child's process id.
func (c *Child) Pid() int { return c.Cmd.Process.Pid }

// Done is closed when the child has exited.
func (c *Child) Done() <-chan struct{} { return c.done }

// Exited reports whether the child has exited.
func (c *Child) Exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// Err is the exit error once Done is closed.
func (c *Child) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Signal sends sig to the child's whole process group.
func (c *Child) Signal(sig syscall.Signal) {
	if c.Exited() {
		return
	}
	_ = syscall.Kill(-c.Pid(), sig)
}

// Stop sends SIGTERM, waits up to grace, then SIGKILLs the process group.
// It reports whether the child exited within grace.
func (c *Child) Stop(grace time.Duration) bool {
	c.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
		return true
	case <-time.After(grace):
		c.Kill()
		return false
	}
}

// Kill SIGKILLs the process group and waits for the child.
func (c *Child) Kill() {
	c.Signal(syscall.SIGKILL)
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
	}
}

// Tail returns the last n lines of the child's log.
func (c *Child) Tail(n int) string {
	b, err := os.ReadFile(c.Log)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// WaitHTTP polls url until it answers 200 or ctx/child ends.
func WaitHTTP(ctx context.Context, url string, c *Child) error {
	hc := &http.Client{Timeout: time.Second}
	for {
		res, err := hc.Get(url)
		if err == nil {
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		if c != nil && c.Exited() {
			return fmt.Errorf("%s exited: %v\n%s", c.Name, c.Err(), c.Tail(20))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready at %s: %w", nameOf(c), url, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func nameOf(c *Child) string {
	if c == nil {
		return "server"
	}
	return c.Name
}

// ModuleRoot returns the directory of the main module (the bridge's go.mod).
func ModuleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("not inside the bridge module (go env GOMOD is empty)")
	}
	return filepath.Dir(mod), nil
}

// BuildBridge builds ./cmd/bridge into out (with the race detector if race).
func BuildBridge(ctx context.Context, out string, race bool) error {
	root, err := ModuleRoot()
	if err != nil {
		return err
	}
	args := []string{"build", "-o", out}
	if race {
		args = append(args, "-race")
	}
	args = append(args, "./cmd/bridge")
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, b)
	}
	return nil
}

// Itoa is strconv.Itoa, for env lines.
func Itoa(n int) string { return strconv.Itoa(n) }
