package demo_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/line-sf-bridge/bridge/pkg/line"
)

// defaultChromium is Debian's chromium package; DEMO_CHROMIUM overrides it.
const defaultChromium = "/usr/bin/chromium"

func chromiumPath() string {
	if p := os.Getenv("DEMO_CHROMIUM"); p != "" {
		return p
	}
	return defaultChromium
}

// Screenshots are written here with UPDATE_SCREENSHOTS=1.
const screenshotDir = "../../docs/screenshots"

// stepTimeout bounds each wait of the browser test.
const stepTimeout = 20 * time.Second

// TestBrowserHandover plays a whole handover in headless Chromium, on both
// panes: the customer says hello and asks for a person; the agent sees the
// request with its prechat details, moves it in the queue and accepts; they
// talk (with the loading animation, a sticker, a file request answered with
// a photo); the agent transfers the chat, then ends it; the operator view
// shows it ended.
//
// It needs /usr/bin/chromium (apt-get install -y chromium; DEMO_CHROMIUM
// names another binary): without it the test is skipped, or fails when
// DEMO_BROWSER_TEST=1 (CI). It needs Redis like the other tests
// (scripts/test.sh). With UPDATE_SCREENSHOTS=1 it writes
// docs/screenshots/{customer,agent,operator}.png (1200×800; install a CJK font
// such as fonts-noto-cjk first, or the Japanese text shows as boxes).
func TestBrowserHandover(t *testing.T) {
	exe := chromiumPath()
	if _, err := os.Stat(exe); err != nil {
		if os.Getenv("DEMO_BROWSER_TEST") == "1" {
			t.Fatalf("DEMO_BROWSER_TEST=1 but %s is missing (%v): install it with `apt-get install -y chromium`", exe, err)
		}
		t.Skipf("%s is missing: browser test skipped (install with `apt-get install -y chromium`; DEMO_BROWSER_TEST=1 turns this skip into a failure)", exe)
	}
	if testing.Short() && os.Getenv("DEMO_BROWSER_TEST") != "1" {
		t.Skip("browser test skipped in -short mode")
	}
	began := time.Now()
	st := startStack(t)
	notices, err := line.DefaultNotices()
	if err != nil {
		t.Fatal(err)
	}
	notice := func(key line.NoticeKey, d line.NoticeData) string {
		s, err := notices.Render("ja", key, d)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}

	b := newBrowser(t, exe)
	t.Logf("stack and browser up in %v", time.Since(began).Round(time.Millisecond))
	cust := b.tab("customer")
	agent := b.tab("agent")
	op := b.tab("operator")

	// The customer opens the LINE pane and picks a name.
	const visitor = "山田 太郎"
	cust.do("open the customer pane",
		chromedp.Navigate(st.URL+"/demo/customer"),
		chromedp.WaitVisible(chromedp.ID("setup-form")),
		chromedp.SetValue(chromedp.ID("name"), visitor),
		chromedp.Click(chromedp.ID("start")),
		chromedp.WaitVisible(chromedp.ID("composer")),
	)
	cust.wait("the customer's stream is live", `document.getElementById('conn').textContent === 'live'`)
	user := cust.eval(`document.body.dataset.user`)
	if !strings.HasPrefix(user, "U") || len(user) != 33 {
		t.Fatalf("customer pane: user id %q", user)
	}

	// Hello to the bot, then the hand-over keyword.
	cust.typeAndSend("text", "send", "こんにちは")
	cust.wait("the customer's text shows", hasText(`#messages li.msg.out .bubble`, "こんにちは"))
	cust.do("press the hand-over button", chromedp.Click(chromedp.ID("handover")))
	cust.wait("the waiting notice", hasText(`#messages li.msg.in .bubble`, notice(line.NoticeWaiting, line.NoticeData{})))
	cust.wait("the queued notice", hasText(`#messages li.msg.in .bubble`, notice(line.NoticeQueued, line.NoticeData{})))

	// The operator view sees the chat the bridge drives.
	op.do("open the operator view", chromedp.Navigate(st.URL+"/demo/operator"))
	op.wait("the operator view lists the chat", fmt.Sprintf(`!!document.querySelector('article.chat-card[data-customer=%s]')`, jsString(user)))

	// The agent sees the request with the prechat details and accepts it.
	agent.do("open the agent console", chromedp.Navigate(st.URL+"/demo/agent"))
	agent.wait("the console's stream is live", `document.getElementById('conn').textContent === 'live'`)
	agent.wait("the incoming chat", hasText(`#incoming .chat-item .name`, visitor))
	agent.do("select the chat", chromedp.Click(chromedp.CSS(`#incoming .chat-item`)))
	agent.wait("the prechat detail ContactLineId", fmt.Sprintf(
		`(() => { const t = document.getElementById('prechat').textContent; return t.includes('ContactLineId') && t.includes(%s); })()`, jsString(user)))
	agent.do("move the chat in the queue",
		chromedp.WaitVisible(chromedp.ID("queue-form")),
		chromedp.SetValue(chromedp.ID("queue-pos"), "2"),
		chromedp.Click(chromedp.CSS(`#queue-form button`)),
	)
	cust.wait("the queue update", hasText(`#messages li.msg.in .bubble`, notice(line.NoticeQueueUpdate, line.NoticeData{HasPosition: true, Position: 2})))
	agent.do("accept", chromedp.WaitEnabled(chromedp.ID("accept")), chromedp.Click(chromedp.ID("accept")))
	agent.wait("the chat is in progress", `document.getElementById('state').textContent === 'In progress'`)
	agent.wait("the history reached the agent", hasText(`#transcript .line.Chasitor .text`, "こんにちは"))
	cust.wait("the agent-joined notice", hasText(`#messages li.msg.in .bubble`, notice(line.NoticeAgentJoined, line.NoticeData{Name: agentName})))

	// The agent types (the customer sees LINE's loading animation), replies.
	agent.do("typing on", chromedp.WaitEnabled(chromedp.ID("typing")), chromedp.Click(chromedp.ID("typing")))
	cust.wait("the loading animation", `(() => { const l = document.getElementById('loading-row'); return !!l && !l.classList.contains('hidden'); })()`)
	const reply = "佐藤です。ご用件をお聞かせください。"
	agent.typeAndSend("reply", "send", reply)
	cust.wait("the agent's reply", hasText(`#messages li.msg.in.agent .bubble`, reply))
	cust.wait("the loading animation ends", `document.getElementById('loading-row').classList.contains('hidden')`)

	// The customer answers; the agent reads it (既読) and sees a sticker as a note.
	const answer = "注文した商品がまだ届きません"
	cust.typeAndSend("text", "send", answer)
	agent.wait("the customer's answer", hasText(`#transcript .line.Chasitor .text`, answer))
	cust.wait("既読 on the answer", `[...document.querySelectorAll('#messages li.msg.out')].some(li => li.textContent.includes(`+jsString(answer)+`) && li.querySelector('.read'))`)
	cust.do("send a sticker",
		chromedp.Click(chromedp.ID("sticker-btn")),
		chromedp.Click(chromedp.CSS(`#stickers button[data-sticker="1989"]`)),
	)
	agent.wait("the sticker note", hasText(`#transcript .line.Chasitor .text`, notice(line.NoteSticker, line.NoticeData{})))

	// The agent asks for a file; the customer's photo is uploaded to the agent.
	agent.do("request a file", chromedp.WaitEnabled(chromedp.ID("request-file")), chromedp.Click(chromedp.ID("request-file")))
	cust.wait("the file-requested notice", hasText(`#messages li.msg.in .bubble`, notice(line.NoticeFileRequested, line.NoticeData{})))
	cust.do("send a photo", chromedp.Click(chromedp.ID("image-btn")))
	agent.wait("the uploaded photo", `(() => { const i = document.querySelector('#files img'); return !!i && i.complete && i.naturalWidth > 0; })()`)
	agent.typeAndSend("reply", "send", "写真を確認しました。本日発送いたします。")
	cust.wait("the agent's second reply", hasText(`#messages li.msg.in.agent .bubble`, "本日発送"))

	// A colleague takes over.
	const colleague = "鈴木 (Tier 2)"
	agent.do("transfer",
		chromedp.WaitEnabled(chromedp.ID("transfer")),
		chromedp.SetValue(chromedp.ID("transfer-to"), colleague),
		chromedp.Click(chromedp.ID("transfer")),
	)
	cust.wait("the transferred notice", hasText(`#messages li.msg.in .bubble`, notice(line.NoticeTransferred, line.NoticeData{Name: colleague})))
	agent.wait("the console shows the new agent", hasText(`#head-meta`, colleague))

	// The agent ends the chat.
	agent.do("end the chat", chromedp.WaitEnabled(chromedp.ID("end")), chromedp.Click(chromedp.ID("end")))
	agent.wait("the chat ended", `document.getElementById('state').textContent === 'Ended'`)
	cust.wait("the ended notice", hasText(`#messages li.msg.in .bubble`, notice(line.NoticeEndedByAgent, line.NoticeData{})))
	op.wait("the operator view shows it ended", fmt.Sprintf(
		`(() => { const c = document.querySelector('article.chat-card[data-customer=%s]'); return !!c && c.dataset.status === 'ended' && c.textContent.includes('agent_message'); })()`, jsString(user)))
	t.Logf("handover played in %v", time.Since(began).Round(time.Millisecond))

	if os.Getenv("UPDATE_SCREENSHOTS") == "1" {
		if err := os.MkdirAll(screenshotDir, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, tb := range []*tab{cust, agent, op} {
			tb.screenshot(filepath.Join(screenshotDir, tb.name+".png"))
		}
	}
	b.checkErrors()
}

// browser is one headless Chromium with a fresh profile.
type browser struct {
	t     *testing.T
	ctx   context.Context
	mu    sync.Mutex
	errs  []string
	first bool
}

func newBrowser(t *testing.T, exe string) *browser {
	t.Helper()
	dir, err := os.MkdirTemp("", "demo-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(dir),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		// Three tabs work at once: none of them may be throttled.
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.Flag("disable-backgrounding-occluded-windows", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("force-color-profile", "srgb"),
		chromedp.Flag("lang", "ja-JP"),
		chromedp.WindowSize(1200, 800),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
		// Chromium's helpers may still write for a moment after it exits.
		for range 50 {
			if os.RemoveAll(dir) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	// The first action on a context starts the browser and binds it to that
	// context: it must be ctx itself, not one derived with a timeout.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v", exe, err)
	}
	return &browser{t: t, ctx: ctx, first: true}
}

// tab is one browser tab at 1200×800 whose page errors fail the test.
type tab struct {
	b    *browser
	name string
	ctx  context.Context
}

func (b *browser) tab(name string) *tab {
	b.t.Helper()
	ctx := b.ctx
	if !b.first {
		var cancel context.CancelFunc
		ctx, cancel = chromedp.NewContext(b.ctx)
		b.t.Cleanup(cancel)
	}
	b.first = false
	// Open the tab on ctx itself (see newBrowser).
	if err := chromedp.Do(ctx); err != nil {
		b.t.Fatalf("open tab %s: %v", name, err)
	}
	tb := &tab{b: b, name: name, ctx: ctx}
	tb.do("set the viewport", chromedp.EmulateViewport(1200, 800))
	err := chromedp.Listen(ctx, func(ev any) {
		var msg string
		switch e := ev.(type) {
		case *runtime.EventExceptionThrown:
			msg = "exception: " + e.ExceptionDetails.Text
			if e.ExceptionDetails.Exception != nil {
				msg += " " + e.ExceptionDetails.Exception.Description
			}
		case *runtime.EventConsoleAPICalled:
			if e.Type != runtime.ConsoleAPICalledTypeError {
				return
			}
			msg = "console.error:"
			for _, a := range e.Args {
				msg += " " + string(a.Value) + a.Description
			}
		default:
			return
		}
		b.mu.Lock()
		b.errs = append(b.errs, name+": "+msg)
		b.mu.Unlock()
	})
	if err != nil {
		b.t.Fatal(err)
	}
	return tb
}

func (b *browser) checkErrors() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, e := range b.errs {
		b.t.Errorf("page error in %s", e)
	}
}

func (tb *tab) do(what string, acts ...chromedp.Action[chromedp.Void]) {
	tb.b.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, acts...); err != nil {
		tb.fail(what, err)
	}
}

// wait polls a JavaScript condition until it holds.
func (tb *tab) wait(what, cond string) {
	tb.b.t.Helper()
	start := time.Now()
	tb.do(what, chromedp.Poll[chromedp.Void](cond,
		chromedp.WithPollingInterval(25*time.Millisecond), chromedp.WithPollingTimeout(stepTimeout)))
	tb.b.t.Logf("%-9s %-40s %v", tb.name+":", what, time.Since(start).Round(time.Millisecond))
}

func (tb *tab) eval(expr string) string {
	tb.b.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		tb.fail("evaluate "+expr, err)
	}
	return s
}

// typeAndSend types text into the input id (real key events, so the page
// sees input events) and clicks the button send once it is enabled.
func (tb *tab) typeAndSend(id, send, text string) {
	tb.b.t.Helper()
	tb.do("type "+text,
		chromedp.Click(chromedp.ID(id)),
		chromedp.SendKeys(chromedp.ID(id), text),
		chromedp.WaitEnabled(chromedp.ID(send)),
		chromedp.Click(chromedp.ID(send)),
	)
}

func (tb *tab) screenshot(file string) {
	tb.b.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		tb.fail("screenshot", err)
	}
	if err := os.WriteFile(file, png, 0o644); err != nil {
		tb.b.t.Fatal(err)
	}
	tb.b.t.Logf("wrote %s (%d bytes)", file, len(png))
}

// fail reports a failed step with the page's text, to see what it showed.
func (tb *tab) fail(what string, err error) {
	tb.b.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 5*time.Second)
	defer cancel()
	body, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ''`))
	if len(body) > 3000 {
		body = body[len(body)-3000:]
	}
	tb.b.checkErrors()
	tb.b.t.Fatalf("%s: %s: %v\n--- page text ---\n%s", tb.name, what, err, body)
}

// hasText is a condition: an element matching sel contains text.
func hasText(sel, text string) string {
	return fmt.Sprintf(`[...document.querySelectorAll(%s)].some(e => e.textContent.includes(%s))`, jsString(sel), jsString(text))
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
