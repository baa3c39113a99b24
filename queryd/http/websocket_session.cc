#include "queryd/http/websocket_session.h"

#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "queryd/http/stream_relay.h"
#include "queryd/http/transcoder.h"

namespace weir::queryd::http {
namespace {

class WebSocketSession final : public StreamRelay {
 public:
  WebSocketSession(HttpStream&& stream, const ServerContext& ctx,
                   Request request)
      : StreamRelay(ctx, stream.get_executor()),
        ws_(std::move(stream)),
        request_(std::move(request)) {}

  void HoldSlots(ConnectionSlot connection,
                 std::unique_ptr<PeerCounter::Slot> stream) {
    connection_slot_ = std::move(connection);
    stream_slot_ = std::move(stream);
  }

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
    ws_.read_message_max(ctx_.options.websocket_max_message_bytes);
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
    HttpStream& tcp = ws_.next_layer();
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
      if (ec == websocket::error::message_too_big &&
          self->ctx_.metrics != nullptr) {
        // Beast closes with 1009 (message too big).
        self->ctx_.metrics->LimitHit("websocket_message_bytes");
      }
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

  websocket::stream<HttpStream> ws_;
  Request request_;
  beast::flat_buffer in_;
  std::string out_;
  bool accepted_ = false;
  bool closed_ = false;
};
}  // namespace

void StartWebSocketStream(HttpStream&& stream, const ServerContext& ctx,
                          Request request, const Gateway::Prepared& prepared,
                          const Metadata& metadata, absl::Time started,
                          ConnectionSlot connection,
                          std::unique_ptr<PeerCounter::Slot> stream_slot) {
  auto session = std::make_shared<WebSocketSession>(std::move(stream), ctx,
                                                    std::move(request));
  session->HoldSlots(std::move(connection), std::move(stream_slot));
  session->Run(prepared, metadata, started);
}

}  // namespace weir::queryd::http
