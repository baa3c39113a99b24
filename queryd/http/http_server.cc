#include "queryd/http/http_server.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <deque>
#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "boost/asio/dispatch.hpp"
#include "boost/asio/executor_work_guard.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/post.hpp"
#include "boost/asio/steady_timer.hpp"
#include "boost/asio/strand.hpp"
#include "boost/asio/write.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "boost/beast/websocket.hpp"
#include "queryd/http/compression.h"
#include "queryd/http/transcoder.h"

namespace weir::queryd::http {
namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace websocket = boost::beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;

using Request = bhttp::request<bhttp::string_body>;

constexpr char kMetricsPath[] = "/metrics";
constexpr char kUnmatched[] = "unmatched";

// What every connection shares; owned by the server.
struct ServerContext {
  HttpServerOptions options;
  Gateway* gateway = nullptr;
  metrics::QuerydMetrics* metrics = nullptr;  // may be null
  // Streams between their call's start and their end, so Stop() can let
  // them say goodbye.
  mutable std::atomic<int> open_streams{0};
};

std::chrono::nanoseconds Chrono(absl::Duration d) {
  return absl::ToChronoNanoseconds(d);
}

// The label a request is counted under: its route's template, /metrics,
// or "unmatched" (never the raw path, which would make labels unbounded).
std::string RouteLabel(const ServerContext& ctx, absl::string_view method,
                       absl::string_view target) {
  const absl::string_view path = target.substr(0, target.find('?'));
  if (path == kMetricsPath) return std::string(kMetricsPath);
  std::string label = ctx.gateway->routes().Find(method, path).path_template;
  return label.empty() ? std::string(kUnmatched) : label;
}

// gRPC metadata the call carries: the client's Authorization header (passed
// on; nothing checks it yet), grpc-gateway's Grpc-Metadata-* headers, and
// the peer address.
Metadata MetadataOf(const Request& request, const tcp::endpoint& peer) {
  Metadata metadata;
  for (const auto& field : request) {
    std::string name = absl::AsciiStrToLower(absl::string_view(
        field.name_string().data(), field.name_string().size()));
    std::string value(field.value());
    if (name == "authorization") {
      metadata.emplace_back(std::move(name), std::move(value));
    } else if (absl::StartsWith(name, "grpc-metadata-")) {
      metadata.emplace_back(name.substr(strlen("grpc-metadata-")),
                            std::move(value));
    }
  }
  metadata.emplace_back("x-forwarded-for", peer.address().to_string());
  return metadata;
}

// `head_only` answers a HEAD request: the head a GET would get (its
// Content-Length included), without the body.
std::shared_ptr<bhttp::response<bhttp::string_body>> MakeResponse(
    const HttpReply& reply, unsigned version, bool keep_alive, bool head_only) {
  auto response = std::make_shared<bhttp::response<bhttp::string_body>>();
  response->version(version);
  response->result(reply.status);
  response->set(bhttp::field::server, "weir-queryd");
  if (!reply.content_type.empty()) {
    response->set(bhttp::field::content_type, reply.content_type);
  }
  for (const auto& [name, value] : reply.headers) response->set(name, value);
  response->body() = reply.body;
  response->keep_alive(keep_alive);
  response->prepare_payload();
  if (head_only) response->body().clear();
  return response;
}

std::string HeaderValue(const Request& request, bhttp::field field) {
  const auto it = request.find(field);
  if (it == request.end()) return "";
  return {it->value().begin(), it->value().end()};
}

// Relays one server stream to an HTTP client, independent of the
// transport (NDJSON or WebSocket). Runs on the connection's strand; the
// StreamObserver methods, called on gRPC threads, post to it.
//
// At most one write is in flight. The call delivers one message at a time
// (Gateway::StreamCall): after a message is written, Next() asks for the
// next, so a slow client slows the call instead of filling memory here.
class StreamRelay : public StreamObserver,
                    public std::enable_shared_from_this<StreamRelay> {
 public:
  void OnMessage(std::string json) override {
    net::post(executor_,
              [self = shared_from_this(), json = std::move(json)]() mutable {
                self->queue_.push_back(std::move(json));
                self->Pump();
              });
  }

  void OnFinish(grpc::Status status) override {
    net::post(executor_, [self = shared_from_this(), status]() {
      self->finished_ = status;
      self->Pump();
    });
  }

 protected:
  StreamRelay(const ServerContext& ctx, const net::any_io_executor& executor)
      : ctx_(ctx), executor_(executor), head_timer_(executor) {}
  ~StreamRelay() override = default;

  // The transport's part. Each write ends with WriteDone().
  // Sends the response head (NDJSON) or accepts the upgrade (WebSocket).
  virtual void WriteHead() = 0;
  virtual void WriteMessage(const std::string& json) = 0;
  // The stream's end: an error (when not OK) and the terminator.
  virtual void WriteEnd(const grpc::Status& status) = 0;
  // The call failed before anything was sent: a plain HTTP error.
  virtual void WriteErrorReply(const HttpReply& reply) = 0;
  // Starts noticing the client leaving (calls ClientGone()).
  virtual void WatchClient() = 0;
  // Closes the connection; the relay is over.
  virtual void Close() = 0;
  // The status code the head reports (200 or 101).
  virtual unsigned HeadStatus() const = 0;

  void StartStream(const Gateway::Prepared& prepared, const Metadata& metadata,
                   absl::Time started) {
    route_ = prepared.path_template;
    started_ = started;
    call_ = ctx_.gateway->CallStream(prepared, metadata, shared_from_this());
    if (call_ == nullptr) {
      finished_ =
          grpc::Status(grpc::StatusCode::UNAVAILABLE, "queryd is stopping");
      Pump();
      return;
    }
    if (ctx_.metrics != nullptr) ctx_.metrics->StreamOpened();
    ctx_.open_streams.fetch_add(1);
    counted_ = true;
    head_timer_.expires_after(Chrono(ctx_.options.stream_head_delay));
    head_timer_.async_wait(
        [self = shared_from_this()](const beast::error_code& ec) {
          if (ec) return;
          self->head_due_ = true;
          self->Pump();
        });
    WatchClient();
  }

  // The client left (a read or a write failed): cancel the call and stop
  // writing; the relay ends when the call has.
  void ClientGone() {
    if (client_gone_ || ended_) return;
    client_gone_ = true;
    if (call_ != nullptr) call_->Cancel();
    Pump();
  }

  // A write finished.
  void WriteDone(bool ok, bool was_message) {
    writing_ = false;
    if (was_message && !queue_.empty()) {
      queue_.pop_front();
      if (ok && call_ != nullptr) call_->Next();
    }
    if (!ok) {
      ClientGone();
      return;
    }
    if (head_only_ && head_sent_) {
      // HEAD: the head was the whole answer; end the call, send nothing.
      ClientGone();
      return;
    }
    Pump();
  }

  // Where the stream stands: decides the next write, if any.
  void Pump() {
    if (writing_ || ended_) return;
    if (client_gone_ || end_written_) {
      // Nothing more to send (a message still queued was released by
      // Cancel()); end once the call has.
      queue_.clear();
      if (finished_.has_value()) End();
      return;
    }
    if (!head_sent_) {
      if (finished_.has_value() && queue_.empty() && !finished_->ok()) {
        head_sent_ = true;
        end_written_ = true;
        writing_ = true;
        head_timer_.cancel();
        const HttpReply reply = ErrorReply(*finished_);
        Observe(reply.status);
        WriteErrorReply(reply);
        return;
      }
      if (!queue_.empty() || finished_.has_value() || head_due_) {
        head_sent_ = true;
        writing_ = true;
        head_timer_.cancel();
        Observe(HeadStatus());
        WriteHead();
      }
      return;
    }
    if (!queue_.empty()) {
      writing_ = true;
      WriteMessage(queue_.front());
      return;
    }
    if (finished_.has_value()) {
      end_written_ = true;
      writing_ = true;
      WriteEnd(*finished_);
    }
  }

  const ServerContext& ctx_;
  // A HEAD request: the call decides the head (its status, as for GET),
  // then ends; no message is sent.
  bool head_only_ = false;

 private:
  void Observe(unsigned code) {
    if (observed_ || ctx_.metrics == nullptr) return;
    observed_ = true;
    ctx_.metrics->ObserveHttpRequest(route_, code, absl::Now() - started_);
  }

  void End() {
    if (ended_) return;
    ended_ = true;
    head_timer_.cancel();
    Observe(499);  // the client left before the head: nginx's code for it
    call_.reset();
    if (counted_) {
      if (ctx_.metrics != nullptr) ctx_.metrics->StreamClosed();
      ctx_.open_streams.fetch_sub(1);
    }
    counted_ = false;
    Close();
  }

  net::any_io_executor executor_;
  net::steady_timer head_timer_;
  std::shared_ptr<StreamCall> call_;
  std::string route_;
  absl::Time started_;
  std::deque<std::string> queue_;
  std::optional<grpc::Status> finished_;
  bool head_due_ = false;
  bool head_sent_ = false;
  bool writing_ = false;
  bool end_written_ = false;
  bool client_gone_ = false;
  bool ended_ = false;
  bool counted_ = false;
  bool observed_ = false;
};

// A WebSocket stream on a path of a server-streaming method.
class WebSocketSession final : public StreamRelay {
 public:
  WebSocketSession(beast::tcp_stream&& stream, const ServerContext& ctx,
                   Request request)
      : StreamRelay(ctx, stream.get_executor()),
        ws_(std::move(stream)),
        request_(std::move(request)) {}

  void Run(const Gateway::Prepared& prepared, const Metadata& metadata,
           absl::Time started) {
    // The WebSocket stream keeps its own timeouts; the TCP stream's must be
    // off (Beast's rule).
    beast::get_lowest_layer(ws_).expires_never();
    websocket::stream_base::timeout timeout;
    timeout.handshake_timeout = Chrono(ctx_.options.write_timeout);
    timeout.idle_timeout = Chrono(ctx_.options.websocket_idle_timeout);
    timeout.keep_alive_pings = true;
    ws_.set_option(timeout);
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& response) {
          response.set(bhttp::field::server, "weir-queryd");
        }));
    ws_.read_message_max(64 << 10);
    StartStream(prepared, metadata, started);
  }

 private:
  std::shared_ptr<WebSocketSession> self() {
    return std::static_pointer_cast<WebSocketSession>(shared_from_this());
  }

  unsigned HeadStatus() const override { return 101; }

  void WriteHead() override {
    ws_.async_accept(request_, [self = self()](const beast::error_code& ec) {
      if (!ec) {
        self->accepted_ = true;
        self->ws_.text(true);
        self->Read();
      }
      self->WriteDone(!ec, false);
    });
  }

  void WriteMessage(const std::string& json) override {
    out_ = json;
    ws_.async_write(net::buffer(out_),
                    [self = self()](const beast::error_code& ec, size_t) {
                      self->WriteDone(!ec, true);
                    });
  }

  void WriteEnd(const grpc::Status& status) override {
    if (status.ok()) {
      CloseWith(websocket::close_code::normal, "");
      return;
    }
    out_ = absl::StrCat(
        "{\"error\":",
        StatusJson(static_cast<absl::StatusCode>(status.error_code()),
                   status.error_message(), status.error_details()),
        "}");
    // 1001 when queryd is stopping, 1011 for any other failure; the
    // reason is the status message, cut to fit a control frame.
    const websocket::close_code code =
        status.error_code() == grpc::StatusCode::UNAVAILABLE
            ? websocket::close_code::going_away
            : websocket::close_code::internal_error;
    std::string reason = status.error_message().substr(0, 120);
    ws_.async_write(net::buffer(out_),
                    [self = self(), code, reason = std::move(reason)](
                        const beast::error_code& ec, size_t) {
                      if (ec) {
                        self->WriteDone(false, false);
                        return;
                      }
                      self->CloseWith(code, reason);
                    });
  }

  void CloseWith(websocket::close_code code, const std::string& reason) {
    ws_.async_close(websocket::close_reason(code, reason),
                    [self = self()](const beast::error_code& ec) {
                      self->closed_ = true;
                      self->WriteDone(!ec, false);
                    });
  }

  void WriteErrorReply(const HttpReply& reply) override {
    auto response = MakeResponse(reply, request_.version(), false, false);
    beast::tcp_stream& tcp = ws_.next_layer();
    tcp.expires_after(Chrono(ctx_.options.write_timeout));
    bhttp::async_write(
        tcp, *response,
        [self = self(), response](const beast::error_code& ec, size_t) {
          self->WriteDone(!ec, false);
        });
  }

  // Reads (and drops) what the client sends, so Beast answers pings and
  // close frames; a read that fails means the client left.
  void Read() {
    ws_.async_read(in_, [self = self()](const beast::error_code& ec, size_t) {
      if (ec) {
        self->ClientGone();
        return;
      }
      self->in_.clear();
      self->Read();
    });
  }

  // Reads start once the upgrade is accepted (in WriteHead).
  void WatchClient() override {}

  void Close() override {
    if (accepted_ && closed_) return;  // closed cleanly; the read ends it
    beast::error_code ignored;
    beast::get_lowest_layer(ws_).socket().shutdown(tcp::socket::shutdown_both,
                                                   ignored);
    beast::get_lowest_layer(ws_).close();
  }

  websocket::stream<beast::tcp_stream> ws_;
  Request request_;
  beast::flat_buffer in_;
  std::string out_;
  bool accepted_ = false;
  bool closed_ = false;
};

// One HTTP connection: requests one after another (keep-alive), each a
// unary call, /metrics, an NDJSON stream (which ends the connection) or an
// upgrade handed to a WebSocketSession.
class HttpSession final : public StreamRelay {
 public:
  HttpSession(tcp::socket&& socket, const ServerContext& ctx)
      : StreamRelay(ctx, socket.get_executor()), stream_(std::move(socket)) {}

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
    stream_.expires_after(Chrono(ctx_.options.read_timeout));
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = self()](const beast::error_code& ec, size_t) {
                        self->OnRead(ec);
                      });
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
      const auto& head = parser_->get();
      const absl::string_view method(head.method_string().data(),
                                     head.method_string().size());
      const absl::string_view target(head.target().data(),
                                     head.target().size());
      const std::string label = target.empty()
                                    ? std::string(kUnmatched)
                                    : RouteLabel(ctx_, method, target);
      // The answer is to a request that was not read: nothing of an earlier
      // one on this connection (HEAD, its headers) applies.
      request_ = Request();
      head_only_ = false;
      if (ec == bhttp::error::body_limit) {
        SendAndClose(
            ErrorReply(absl::StatusCode::kInvalidArgument,
                       absl::StrCat("request body is larger than ",
                                    ctx_.options.max_body_bytes, " bytes")),
            413, label);
      } else if (ec == bhttp::error::header_limit) {
        SendAndClose(ErrorReply(absl::StatusCode::kInvalidArgument,
                                "request header is too large"),
                     431, label);
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
    if (prepared.route->server_streaming) {
      if (upgrade) {
        auto ws = std::make_shared<WebSocketSession>(std::move(stream_), ctx_,
                                                     std::move(request_));
        ws->Run(prepared, metadata, started_);
        return;  // this session ends here; the WebSocket one carries on
      }
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

  beast::tcp_stream stream_;
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

// Accepts connections, each on its own strand.
class Listener : public std::enable_shared_from_this<Listener> {
 public:
  Listener(net::io_context& ioc, tcp::acceptor acceptor,
           const ServerContext& ctx)
      : ioc_(ioc),
        acceptor_(std::move(acceptor)),
        retry_(acceptor_.get_executor()),
        ctx_(ctx) {}

  void Accept() {
    acceptor_.async_accept(
        net::make_strand(ioc_),
        [self = shared_from_this()](const beast::error_code& ec,
                                    tcp::socket socket) {
          if (ec == net::error::operation_aborted ||
              !self->acceptor_.is_open()) {
            return;
          }
          if (ec) {
            // Out of descriptors or similar: try again shortly rather than
            // spin.
            self->retry_.expires_after(std::chrono::milliseconds(100));
            self->retry_.async_wait([self](const beast::error_code& wait) {
              if (!wait) self->Accept();
            });
            return;
          }
          std::make_shared<HttpSession>(std::move(socket), self->ctx_)->Run();
          self->Accept();
        });
  }

  void Close() {
    net::post(acceptor_.get_executor(), [self = shared_from_this()]() {
      beast::error_code ignored;
      self->acceptor_.close(ignored);
      self->retry_.cancel();
    });
  }

 private:
  net::io_context& ioc_;
  tcp::acceptor acceptor_;
  net::steady_timer retry_;
  const ServerContext& ctx_;
};

}  // namespace

struct HttpServer::Impl {
  ServerContext ctx;
  std::unique_ptr<net::io_context> ioc;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
  std::shared_ptr<Listener> listener;
  std::vector<std::thread> threads;
  bool stopped = false;
};

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(
    const HttpServerOptions& options, Gateway* gateway,
    metrics::QuerydMetrics* metrics) {
  auto error = [&options](absl::string_view what) {
    return absl::UnavailableError(absl::StrCat(
        "cannot listen on --http-address ", options.address, ": ", what));
  };
  const size_t colon = options.address.rfind(':');
  if (colon == std::string::npos) return error("not host:port");
  std::string host = options.address.substr(0, colon);
  const std::string port = options.address.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }

  std::unique_ptr<HttpServer> server(new HttpServer());
  server->impl_ = std::make_unique<Impl>();
  Impl& impl = *server->impl_;
  impl.ctx.options = options;
  impl.ctx.gateway = gateway;
  impl.ctx.metrics = metrics;
  impl.ioc = std::make_unique<net::io_context>(std::max(1, options.threads));

  beast::error_code ec;
  tcp::resolver resolver(*impl.ioc);
  const auto endpoints = resolver.resolve(host, port, ec);
  if (ec || endpoints.empty()) return error(ec ? ec.message() : "no address");
  const tcp::endpoint endpoint = endpoints.begin()->endpoint();

  tcp::acceptor acceptor(net::make_strand(*impl.ioc));
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return error(ec.message());
  server->port_ = acceptor.local_endpoint().port();

  impl.listener =
      std::make_shared<Listener>(*impl.ioc, std::move(acceptor), impl.ctx);
  impl.listener->Accept();
  impl.work.emplace(impl.ioc->get_executor());
  for (int i = 0; i < std::max(1, options.threads); ++i) {
    impl.threads.emplace_back([ioc = impl.ioc.get()]() { ioc->run(); });
  }
  return server;
}

void HttpServer::Stop() {
  // (No listener: Start() failed before serving; nothing runs.)
  if (impl_ == nullptr || impl_->stopped || impl_->listener == nullptr) return;
  impl_->stopped = true;
  impl_->listener->Close();
  // Calls end first (their completions still reach the connections), then
  // the connections: whatever is left is destroyed with the io_context.
  impl_->ctx.gateway->Shutdown();
  // Streams write their end ({"error": ...} UNAVAILABLE, or a WebSocket
  // close 1001) on the still running threads; give them a moment.
  const absl::Time deadline = absl::Now() + absl::Seconds(1);
  while (impl_->ctx.open_streams.load() > 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  impl_->work.reset();
  impl_->ioc->stop();
  for (std::thread& thread : impl_->threads) thread.join();
  impl_->threads.clear();
  impl_->listener.reset();
  impl_->ioc.reset();
}

HttpServer::~HttpServer() { Stop(); }

}  // namespace weir::queryd::http
