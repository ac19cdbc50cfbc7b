package liveagent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
)

// UploadFile answers a FileTransfer of type "Requested": it POSTs r as multipart/form-data
// (fields "file" and "filename") to ft.UploadServletURL with the query
// orgId=&chatKey=<session key before the first '!'>&fileToken=&encoding=UTF-8, and Referer
// ft.CdmServletURL. The body is streamed from r; the deadline is Config.UploadTimeout.
// UploadFile returns only after it has stopped reading r (a blocked r.Read delays the return).
func (c *Client) UploadFile(ctx context.Context, s Session, ft FileTransfer, filename, contentType string, r io.Reader) error {
	if err := c.uploadFile(ctx, s, ft, filename, contentType, r); err != nil {
		return fmt.Errorf("liveagent: upload file: %w", err)
	}
	return nil
}

func (c *Client) uploadFile(ctx context.Context, s Session, ft FileTransfer, filename, contentType string, r io.Reader) error {
	if ft.UploadServletURL == "" || ft.FileToken == "" {
		return errors.New("file transfer has no upload servlet url or file token")
	}
	u, err := url.Parse(ft.UploadServletURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") {
		return errors.New("invalid upload servlet url")
	}
	q := u.Query()
	q.Set("orgId", c.cfg.OrgID)
	q.Set("chatKey", s.ChatKey())
	q.Set("fileToken", ft.FileToken)
	q.Set("encoding", "UTF-8")
	u.RawQuery = q.Encode()
	if contentType == "" {
		contentType = "application/octet-stream"
	}

	cctx, cancel := context.WithTimeout(ctx, c.cfg.UploadTimeout)
	defer cancel()

	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	done := make(chan struct{})
	go func() { // owned: joined below before returning
		defer close(done)
		pw.CloseWithError(writeUploadBody(mw, filename, contentType, r))
	}()
	// Whatever happens, unblock and join the writer before returning.
	defer func() {
		pr.CloseWithError(errors.New("upload finished"))
		<-done
	}()

	req, err := http.NewRequestWithContext(cctx, http.MethodPost, u.String(), pr)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("User-Agent", c.cfg.UserAgent)
	if ft.CdmServletURL != "" {
		req.Header.Set("Referer", ft.CdmServletURL)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return c.transportError(ctx, cctx, c.cfg.UploadTimeout, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		return &StatusError{Op: "upload file", StatusCode: resp.StatusCode, Body: string(b)}
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return nil
}

func writeUploadBody(mw *multipart.Writer, filename, contentType string, r io.Reader) error {
	h := make(textproto.MIMEHeader)
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename="%s"`, escapeQuotes(filename)))
	h.Set("Content-Type", contentType)
	part, err := mw.CreatePart(h)
	if err != nil {
		return err
	}
	if _, err := io.Copy(part, r); err != nil {
		return err
	}
	if err := mw.WriteField("filename", filename); err != nil {
		return err
	}
	return mw.Close()
}

var quoteEscaper = strings.NewReplacer("\\", "\\\\", `"`, "\\\"", "\r", "", "\n", "")

func escapeQuotes(s string) string { return quoteEscaper.Replace(s) }
