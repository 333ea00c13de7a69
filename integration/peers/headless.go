package peers

import (
	"context"

	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"

	"golang.org/x/net/html"
)

// HeadlessBrowser plays the person's browser with an http.Client and a
// cookie jar: it follows the authorization URL through the provider's pages,
// filling in and posting each login or consent form it meets, until it lands
// on a page that is not the provider's (authloop's loopback callback).
//
// Its Open method is an authloop.Browser. Open returns at once and runs the
// walk in a goroutine, as a real browser would; Wait returns the walk's
// result.
type HeadlessBrowser struct {
	// Login and Password are typed into login forms.
	Login, Password string

	client *http.Client
	wg     sync.WaitGroup
	mu     sync.Mutex
	err    error
	pages  []string // the URLs visited, for failure messages
	last   *Page
}

// Page is the last page the walk reached.
type Page struct {
	URL    string
	Status int
	Body   string
}

// NewHeadlessBrowser returns a browser with an empty cookie jar.
func NewHeadlessBrowser() *HeadlessBrowser {
	jar, _ := cookiejar.New(nil)
	return &HeadlessBrowser{
		Login:    "alice",
		Password: "any password",
		client:   &http.Client{Jar: jar},
	}
}

// Open starts the walk from authURL; it is an authloop.Browser.
func (b *HeadlessBrowser) Open(ctx context.Context, authURL string) error {
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		// Login cancels ctx when it returns; the walk must end by then anyway.
		last, err := b.walk(context.WithoutCancel(ctx), authURL)
		b.mu.Lock()
		b.last, b.err = last, err
		b.mu.Unlock()
	}()
	return nil
}

// Wait waits for the walk and returns the last page and its error.
func (b *HeadlessBrowser) Wait() (*Page, error) {
	b.wg.Wait()
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.last, b.err
}

// CloseIdleConnections releases the browser's connections.
func (b *HeadlessBrowser) CloseIdleConnections() { b.client.CloseIdleConnections() }

func (b *HeadlessBrowser) walk(ctx context.Context, authURL string) (*Page, error) {
	start, err := url.Parse(authURL)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, authURL, nil)
	if err != nil {
		return nil, err
	}
	for step := 0; step < 10; step++ {
		page, form, err := b.fetch(req)
		if err != nil {
			return page, err
		}
		pageURL, _ := url.Parse(page.URL)
		if pageURL.Host != start.Host || form == nil {
			// Off the provider (the callback), or a page with nothing to
			// fill in: the walk ends here.
			if page.Status/100 != 2 {
				return page, fmt.Errorf("headless browser: %s answered %d: %.300s", page.URL, page.Status, page.Body)
			}
			return page, nil
		}
		req, err = b.submit(ctx, pageURL, form)
		if err != nil {
			return page, err
		}
	}
	return nil, fmt.Errorf("headless browser: still on the provider's pages after 10 forms: %v", b.pages)
}

// fetch sends req, following redirects, and parses the first POST form of
// the page it lands on.
func (b *HeadlessBrowser) fetch(req *http.Request) (*Page, *html.Node, error) {
	resp, err := b.client.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("headless browser: %w (pages so far: %v)", err, b.pages)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, nil, err
	}
	page := &Page{URL: resp.Request.URL.String(), Status: resp.StatusCode, Body: string(body)}
	b.pages = append(b.pages, redactQuery(resp.Request.URL))
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		return page, nil, nil
	}
	doc, err := html.Parse(strings.NewReader(page.Body))
	if err != nil {
		return page, nil, err
	}
	return page, findPostForm(doc), nil
}

// submit builds the POST of a form: hidden fields as they are, the login
// and password filled in, the first submit button's name and value.
func (b *HeadlessBrowser) submit(ctx context.Context, base *url.URL, form *html.Node) (*http.Request, error) {
	action, err := base.Parse(attr(form, "action"))
	if err != nil {
		return nil, err
	}
	vals := url.Values{}
	var clicked bool
	walkNodes(form, func(n *html.Node) {
		if n.Type != html.ElementNode {
			return
		}
		name := attr(n, "name")
		switch n.Data {
		case "input":
			switch strings.ToLower(attr(n, "type")) {
			case "password":
				vals.Set(name, b.Password)
			case "submit":
				if !clicked && name != "" {
					vals.Set(name, attr(n, "value"))
					clicked = true
				}
			case "checkbox", "radio":
				if hasAttr(n, "checked") && name != "" {
					vals.Add(name, attrOr(n, "value", "on"))
				}
			default: // text, email, hidden
				if name == "" {
					return
				}
				v := attr(n, "value")
				if v == "" && (name == "login" || name == "username" || name == "email") {
					v = b.Login
				}
				vals.Add(name, v)
			}
		case "button":
			if !clicked && name != "" && strings.ToLower(attrOr(n, "type", "submit")) == "submit" {
				vals.Set(name, attr(n, "value"))
				clicked = true
			}
		}
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, action.String(), strings.NewReader(vals.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req, nil
}

func findPostForm(doc *html.Node) *html.Node {
	var form *html.Node
	walkNodes(doc, func(n *html.Node) {
		if form == nil && n.Type == html.ElementNode && n.Data == "form" && strings.EqualFold(attr(n, "method"), "post") {
			form = n
		}
	})
	return form
}

func walkNodes(n *html.Node, f func(*html.Node)) {
	f(n)
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		walkNodes(c, f)
	}
}

func attr(n *html.Node, key string) string { return attrOr(n, key, "") }

func attrOr(n *html.Node, key, def string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return def
}

func hasAttr(n *html.Node, key string) bool {
	for _, a := range n.Attr {
		if a.Key == key {
			return true
		}
	}
	return false
}

// redactQuery keeps a URL's path for messages, without its query (which
// carries codes and state).
func redactQuery(u *url.URL) string {
	c := *u
	if c.RawQuery != "" {
		c.RawQuery = "…"
	}
	return c.String()
}
