#include "queryd/http/http_session.h"

#include <algorithm>
#include <array>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "boost/asio/dispatch.hpp"
#include "boost/asio/post.hpp"
#include "boost/asio/write.hpp"
#include "queryd/http/compression.h"
#include "queryd/http/cors.h"
#include "queryd/http/request_checks.h"
#include "queryd/http/stream_relay.h"
#include "queryd/http/transcoder.h"
#include "queryd/http/websocket_session.h"

namespace weir::queryd::http {
namespace {

class HttpSession final : public StreamRelay {
 public:
  HttpSession(HttpStream&& stream, const ServerContext& ctx,
              ConnectionSlot slot)
      : StreamRelay(ctx, stream.get_executor()), stream_(std::move(stream)) {
    connection_slot_ = std::move(slot);
  }

  void Run() {
    beast::error_code ec;
    peer_ = stream_.socket().remote_endpoint(ec);
    net::dispatch(stream_.get_executor(),
                  [self = self()]() { self->ReadRequest(); });
  }

 private:
  std::shared_ptr<HttpSession> self() {
    return std::static_pointer_cast<HttpSession>(shared_from_this());
  }

  void ReadRequest() {
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(ctx_.options.max_header_bytes));
    parser_->body_limit(ctx_.options.max_body_bytes);
    // One deadline for the head and the body: a client sending a byte at
    // a time is cut off all the same.
    stream_.expires_after(Chrono(ctx_.options.read_timeout));
    // The head first, checked before any of the body is read: a body that
    // could be framed two ways is never read at all.
    bhttp::async_read_header(stream_, buffer_, *parser_,
                             [self = self()](const beast::error_code& ec,
                                             size_t) { self->OnHeader(ec); });
  }

  void OnHeader(const beast::error_code& ec) {
    if (ec) {
      OnRead(ec);
      return;
    }
    const auto& head = parser_->get();
    if (absl::Status framing = CheckFraming(head, head.version());
        !framing.ok()) {
      started_ = absl::Now();
      request_ = Request();
      head_only_ = false;
      SendAndClose(ErrorReply(framing.code(), framing.message()), 400,
                   LabelOf(head));
      return;
    }
    if (parser_->is_done()) {
      OnRead(ec);
      return;
    }
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = self()](const beast::error_code& ec, size_t) {
                        self->OnRead(ec);
                      });
  }

  std::string LabelOf(const Request& head) const {
    const absl::string_view method(head.method_string().data(),
                                   head.method_string().size());
    const absl::string_view target(head.target().data(), head.target().size());
    return target.empty() ? std::string(kUnmatched)
                          : RouteLabel(ctx_, method, target);
  }

  void OnRead(const beast::error_code& ec) {
    started_ = absl::Now();
    if (ec == bhttp::error::end_of_stream || ec == beast::error::timeout ||
        ec == net::error::operation_aborted ||
        ec == net::error::connection_reset || ec == net::error::eof) {
      // The client closed, or was too slow or silent: no answer.
      CloseSocket();
      return;
    }
    if (ec) {
      const std::string label = LabelOf(parser_->get());
      // The answer is to a request that was not read: nothing of an earlier
      // one on this connection (HEAD, its headers) applies.
      request_ = Request();
      head_only_ = false;
      if (ec == bhttp::error::body_limit) {
        if (ctx_.metrics != nullptr) ctx_.metrics->LimitHit("body_bytes");
        SendAndClose(
            ErrorReply(absl::StatusCode::kInvalidArgument,
                       absl::StrCat("request body is larger than ",
                                    ctx_.options.max_body_bytes, " bytes")),
            413, label);
      } else if (ec == bhttp::error::header_limit) {
        if (ctx_.metrics != nullptr) ctx_.metrics->LimitHit("header_bytes");
        SendAndClose(ErrorReply(absl::StatusCode::kInvalidArgument,
                                "request header is too large"),
                     431, label);
      } else if (ec == bhttp::error::bad_transfer_encoding ||
                 ec == bhttp::error::bad_content_length) {
        // Beast's own refusals of a framing that could be read two ways:
        // a second Transfer-Encoding, or one next to Content-Length.
        SendAndClose(
            ErrorReply(absl::StatusCode::kInvalidArgument,
                       ec == bhttp::error::bad_transfer_encoding
                           ? "Transfer-Encoding conflicts with another "
                             "Transfer-Encoding or Content-Length header"
                           : "Content-Length is invalid or conflicts with "
                             "Transfer-Encoding or another Content-Length"),
            400, label);
      } else if (ec.category() ==
                 bhttp::make_error_code(bhttp::error::bad_target).category()) {
        SendAndClose(
            ErrorReply(absl::StatusCode::kInvalidArgument,
                       absl::StrCat("malformed HTTP request: ", ec.message())),
            400, label);
      } else {
        CloseSocket();
      }
      return;
    }
    request_ = parser_->release();
    Dispatch();
  }

  void Dispatch() {
    const std::string method(request_.method_string());
    const std::string target(request_.target());
    const absl::string_view path =
        absl::string_view(target).substr(0, target.find('?'));
    // HEAD is GET without the body (RFC 9110 §9.3.2), on every GET route.
    head_only_ = method == "HEAD";
    const std::string route_method = head_only_ ? "GET" : method;

    if (method == "OPTIONS" && ctx_.options.cors.enabled() &&
        request_.find(bhttp::field::origin) != request_.end() &&
        request_.find(bhttp::field::access_control_request_method) !=
            request_.end()) {
      Preflight(path);
      return;
    }

    if (path == kMetricsPath && ctx_.metrics != nullptr) {
      if (route_method != "GET") {
        HttpReply reply = ErrorReply(
            absl::StatusCode::kUnimplemented,
            absl::StrCat("method ", method, " is not allowed on /metrics"));
        reply.status = 405;
        reply.headers.emplace_back("Allow", "GET");
        Send(reply, std::string(kMetricsPath));
        return;
      }
      if (ctx_.options.authorizer != nullptr) {
        const auto header = request_.find(bhttp::field::authorization);
        const absl::Status allowed = ctx_.options.authorizer->Authorize(
            header == request_.end()
                ? std::nullopt
                : std::optional<absl::string_view>(absl::string_view(
                      header->value().data(), header->value().size())),
            auth::Scope::kMetrics, "/metrics");
        if (!allowed.ok()) {
          Send(ErrorReply(allowed.code(), allowed.message()),
               std::string(kMetricsPath));
          return;
        }
      }
      Send(HttpReply{200,
                     std::string(metrics::QuerydMetrics::kContentType),
                     ctx_.metrics->Scrape(),
                     {}},
           std::string(kMetricsPath));
      return;
    }

    Gateway::Prepared prepared =
        ctx_.gateway->Prepare(route_method, target, request_.body());
    const std::string label = prepared.path_template.empty()
                                  ? std::string(kUnmatched)
                                  : prepared.path_template;
    if (prepared.error.has_value()) {
      Send(*prepared.error, label);
      return;
    }
    const Metadata metadata = MetadataOf(request_, peer_);
    const bool upgrade = websocket::is_upgrade(request_);
    if (upgrade) {
      if (absl::Status valid = CheckWebSocketUpgrade(request_); !valid.ok()) {
        HttpReply reply = ErrorReply(valid.code(), valid.message());
        reply.status = 400;
        reply.headers.emplace_back("Sec-WebSocket-Version", "13");
        Send(reply, label, /*close=*/true);
        return;
      }
    }
    if (prepared.route->server_streaming) {
      PeerCounter::Refusal refusal;
      std::unique_ptr<PeerCounter::Slot> slot =
          ctx_.streams->Acquire(PeerKey(peer_), &refusal);
      if (slot == nullptr) {
        if (ctx_.metrics != nullptr) ctx_.metrics->LimitHit("streams_per_peer");
        SendAndClose(
            ErrorReply(absl::StatusCode::kResourceExhausted,
                       absl::StrCat("too many open streams from this address "
                                    "(--max-streams-per-peer=",
                                    ctx_.options.max_streams_per_peer, ")")),
            429, label);
        return;
      }
      if (upgrade) {
        StartWebSocketStream(std::move(stream_), ctx_, std::move(request_),
                             prepared, metadata, started_,
                             std::move(connection_slot_), std::move(slot));
        return;  // this session ends here; the WebSocket one carries on
      }
      stream_slot_ = std::move(slot);
      StartStream(prepared, metadata, started_);
      return;
    }
    if (upgrade) {
      Send(ErrorReply(
               absl::StatusCode::kInvalidArgument,
               absl::StrCat("WebSocket is offered on the paths of "
                            "streaming methods; ",
                            prepared.route->method->full_name(), " is unary")),
           label);
      return;
    }
    ctx_.gateway->CallUnary(
        prepared, metadata, [self = self(), label](HttpReply reply) {
          net::post(self->stream_.get_executor(),
                    [self, label, reply = std::move(reply)]() {
                      self->Send(reply, label);
                    });
        });
  }

  // The CORS headers of an answer to this request, and, for a whole body
  // (`compressible`), gzip when the client accepts it. Vary names what
  // the answer depends on besides the URL.
  HttpReply Decorate(HttpReply reply, bool compressible) const {
    std::vector<std::string> vary;
    const CorsPolicy& cors = ctx_.options.cors;
    if (cors.enabled()) {
      if (std::optional<std::string> allow =
              cors.AllowOrigin(HeaderValue(request_, bhttp::field::origin))) {
        reply.headers.emplace_back("Access-Control-Allow-Origin",
                                   *std::move(allow));
      }
      if (cors.varies_by_origin()) vary.push_back("Origin");
    }
    if (compressible) {
      vary.push_back("Accept-Encoding");
      if (reply.body.size() >= kMinGzipBytes &&
          AcceptsGzip(HeaderValue(request_, bhttp::field::accept_encoding))) {
        // A failure (out of memory) sends the body as it is.
        if (absl::StatusOr<std::string> packed = Gzip(reply.body);
            packed.ok()) {
          reply.body = *std::move(packed);
          reply.headers.emplace_back("Content-Encoding", "gzip");
        }
      }
    }
    if (!vary.empty()) {
      reply.headers.emplace_back("Vary", absl::StrJoin(vary, ", "));
    }
    return reply;
  }

  // A CORS preflight (OPTIONS with Origin and
  // Access-Control-Request-Method) on a path with routes: 204 with the
  // path's methods for a listed origin, 403 for another, 404 for an
  // unknown path.
  void Preflight(absl::string_view path) {
    std::vector<std::string> methods;
    std::string label;
    if (path == kMetricsPath && ctx_.metrics != nullptr) {
      methods = {"GET"};
      label = kMetricsPath;
    } else {
      RouteTable::Match match = ctx_.gateway->routes().Find("OPTIONS", path);
      methods = std::move(match.allowed_methods);
      label = match.path_template.empty() ? std::string(kUnmatched)
                                          : match.path_template;
    }
    if (methods.empty()) {
      Send(ErrorReply(absl::StatusCode::kNotFound,
                      absl::StrCat("no route for OPTIONS ", path)),
           label);
      return;
    }
    if (std::find(methods.begin(), methods.end(), "GET") != methods.end()) {
      methods.push_back("HEAD");
    }
    const std::string origin = HeaderValue(request_, bhttp::field::origin);
    if (!ctx_.options.cors.AllowOrigin(origin).has_value()) {
      Send(ErrorReply(absl::StatusCode::kPermissionDenied,
                      absl::StrCat("origin \"", origin,
                                   "\" is not allowed (--http-cors-origins)")),
           label);
      return;
    }
    HttpReply reply;
    reply.status = 204;
    reply.content_type.clear();
    reply.headers.emplace_back("Access-Control-Allow-Methods",
                               absl::StrJoin(methods, ", "));
    const std::string headers = CorsPolicy::AllowHeaders(
        HeaderValue(request_, bhttp::field::access_control_request_headers));
    if (!headers.empty()) {
      reply.headers.emplace_back("Access-Control-Allow-Headers", headers);
    }
    reply.headers.emplace_back("Access-Control-Max-Age",
                               absl::StrCat(CorsPolicy::kMaxAgeSeconds));
    Send(reply, label);
  }

  // A whole response; then the next request (keep-alive) or the end.
  void Send(const HttpReply& plain, const std::string& label,
            bool close = false) {
    const HttpReply reply = Decorate(plain, /*compressible=*/true);
    if (ctx_.metrics != nullptr) {
      ctx_.metrics->ObserveHttpRequest(label, reply.status,
                                       absl::Now() - started_);
    }
    auto response =
        MakeResponse(reply, request_.version() == 0 ? 11 : request_.version(),
                     !close && request_.keep_alive(), head_only_);
    stream_.expires_after(Chrono(ctx_.options.write_timeout));
    bhttp::async_write(
        stream_, *response,
        [self = self(), response](const beast::error_code& ec, size_t) {
          if (ec || !response->keep_alive()) {
            self->CloseSocket();
            return;
          }
          self->ReadRequest();
        });
  }

  void SendAndClose(HttpReply reply, unsigned status,
                    const std::string& label) {
    reply.status = status;
    Send(reply, label, /*close=*/true);
  }

  void CloseSocket() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.close();
  }

  // --- NDJSON stream --------------------------------------------------

  unsigned HeadStatus() const override { return 200; }

  void WatchClient() override {
    // The client sends nothing more on this connection (it closes after
    // the stream); a read that ends means it left. No read timeout.
    stream_.expires_never();
    stream_.async_read_some(
        net::buffer(scratch_),
        [self = self()](const beast::error_code& ec, size_t) {
          if (ec) {
            self->ClientGone();
          } else {
            self->WatchClient();  // ignore what it sends
          }
        });
  }

  void WriteHead() override {
    head_.emplace(bhttp::status::ok, request_.version());
    head_->set(bhttp::field::server, "weir-queryd");
    head_->set(bhttp::field::content_type, "application/x-ndjson");
    head_->set(bhttp::field::cache_control, "no-cache");
    // Streams are not compressed (each line must reach the client when it
    // is written); only the CORS headers apply.
    for (const auto& [name, value] :
         Decorate(HttpReply{}, /*compressible=*/false).headers) {
      head_->set(name, value);
    }
    head_->keep_alive(false);
    head_->chunked(true);
    head_serializer_.emplace(*head_);
    stream_.expires_after(Chrono(ctx_.options.write_timeout));
    bhttp::async_write_header(
        stream_, *head_serializer_,
        [self = self()](const beast::error_code& ec, size_t) {
          self->WriteDone(!ec, false);
        });
  }

  void WriteMessage(const std::string& json) override {
    out_ = absl::StrCat("{\"result\":", json, "}\n");
    WriteChunk(true);
  }

  void WriteEnd(const grpc::Status& status) override {
    if (status.ok()) {
      WriteLastChunk();
      return;
    }
    out_ = absl::StrCat(
        "{\"error\":",
        StatusJson(static_cast<absl::StatusCode>(status.error_code()),
                   status.error_message(), status.error_details()),
        "}\n");
    stream_.expires_after(Chrono(ctx_.options.write_timeout));
    net::async_write(stream_, bhttp::make_chunk(net::buffer(out_)),
                     [self = self()](const beast::error_code& ec, size_t) {
                       if (ec) {
                         self->WriteDone(false, false);
                         return;
                       }
                       self->WriteLastChunk();
                     });
  }

  void WriteChunk(bool was_message) {
    stream_.expires_after(Chrono(ctx_.options.write_timeout));
    net::async_write(
        stream_, bhttp::make_chunk(net::buffer(out_)),
        [self = self(), was_message](const beast::error_code& ec, size_t) {
          self->WriteDone(!ec, was_message);
        });
  }

  void WriteLastChunk() {
    stream_.expires_after(Chrono(ctx_.options.write_timeout));
    net::async_write(stream_, bhttp::make_chunk_last(),
                     [self = self()](const beast::error_code& ec, size_t) {
                       self->WriteDone(!ec, false);
                     });
  }

  void WriteErrorReply(const HttpReply& reply) override {
    auto response = MakeResponse(Decorate(reply, /*compressible=*/true),
                                 request_.version(), false, head_only_);
    stream_.expires_after(Chrono(ctx_.options.write_timeout));
    bhttp::async_write(
        stream_, *response,
        [self = self(), response](const beast::error_code& ec, size_t) {
          self->WriteDone(!ec, false);
        });
  }

  void Close() override { CloseSocket(); }

  HttpStream stream_;
  tcp::endpoint peer_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  Request request_;
  absl::Time started_;
  // NDJSON stream.
  std::optional<bhttp::response<bhttp::empty_body>> head_;
  std::optional<bhttp::response_serializer<bhttp::empty_body>> head_serializer_;
  std::string out_;
  std::array<char, 512> scratch_;
};

}  // namespace

void ServeHttpConnection(HttpStream&& stream, const ServerContext& ctx,
                         ConnectionSlot slot) {
  std::make_shared<HttpSession>(std::move(stream), ctx, std::move(slot))->Run();
}

}  // namespace weir::queryd::http
