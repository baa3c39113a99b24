// Relays one server stream to an HTTP client, independent of the
// transport (NDJSON in HttpSession, WebSocket in WebSocketSession). Runs on
// the connection's strand; the StreamObserver methods, called on gRPC
// threads, post to it.
//
// At most one write is in flight. The call delivers one message at a time
// (Gateway::StreamCall): after a message is written, Next() asks for the
// next, so a slow client slows the call instead of filling memory here.
// Internal to http_server.
#ifndef WEIR_QUERYD_HTTP_STREAM_RELAY_H_
#define WEIR_QUERYD_HTTP_STREAM_RELAY_H_

#include <deque>
#include <memory>
#include <optional>
#include <string>

#include "absl/time/time.h"
#include "boost/asio/steady_timer.hpp"
#include "queryd/http/gateway.h"
#include "queryd/http/server_context.h"

namespace weir::queryd::http {

class StreamRelay : public StreamObserver,
                    public std::enable_shared_from_this<StreamRelay> {
 public:
  void OnMessage(std::string json) override;
  void OnFinish(grpc::Status status) override;

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
                   absl::Time started);

  // The client left (a read or a write failed): cancel the call and stop
  // writing; the relay ends when the call has.
  void ClientGone();

  // A write finished.
  void WriteDone(bool ok, bool was_message);

  // Where the stream stands: decides the next write, if any.
  void Pump();

  const ServerContext& ctx_;
  // The connection's place among the open connections, and the stream's
  // among its peer's streams (given back when the stream ends).
  ConnectionSlot connection_slot_;
  std::unique_ptr<PeerCounter::Slot> stream_slot_;
  // A HEAD request: the call decides the head (its status, as for GET),
  // then ends; no message is sent.
  bool head_only_ = false;

 private:
  void Observe(unsigned code);
  void End();

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

}  // namespace weir::queryd::http

#endif  // WEIR_QUERYD_HTTP_STREAM_RELAY_H_
