#include "collector/shipper.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "collector/spool_test_batches.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"

namespace weir::collector {
namespace {

using ::weir::collector::testing::Seqs;

// A real IngestService on loopback that stores (epoch, seq) once, acks every
// batch, and can be told to break the stream after some batches unacked, or
// to refuse a batch as malformed the way queryd does (INVALID_ARGUMENT ends
// the stream; nothing of it is stored).
class RecordingIngest final : public weir::v1::IngestService::Service {
 public:
  grpc::Status Ingest(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<weir::v1::Ack, weir::v1::FlowBatch>* stream)
      override {
    weir::v1::FlowBatch batch;
    while (stream->Read(&batch)) {
      weir::v1::Ack ack;
      ack.set_epoch(batch.epoch());
      ack.set_seq(batch.seq());
      {
        absl::MutexLock lock(&mu_);
        ++received_;
        ++received_by_seq_[batch.seq()];
        if (break_after_ > 0 && --break_after_ == 0) {
          return grpc::Status(grpc::StatusCode::UNAVAILABLE, "test break");
        }
        if (batch.seq() == refuse_seq_) {
          return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                              absl::StrCat("flows[0].src_addr: batch ",
                                           batch.seq(), " is malformed"));
        }
        if (batch.seq() <= high_water_) {
          ack.set_duplicate(true);
        } else {
          high_water_ = batch.seq();
          stored_.push_back(batch);
        }
      }
      if (!stream->Write(ack)) break;
    }
    return grpc::Status::OK;
  }

  void BreakAfter(int batches) {
    absl::MutexLock lock(&mu_);
    break_after_ = batches;
  }
  // Refuses the batch of this seq every time it comes.
  void Refuse(uint64_t seq) {
    absl::MutexLock lock(&mu_);
    refuse_seq_ = seq;
  }
  int received(uint64_t seq) {
    absl::MutexLock lock(&mu_);
    return received_by_seq_[seq];
  }
  std::vector<weir::v1::FlowBatch> stored() {
    absl::MutexLock lock(&mu_);
    return stored_;
  }
  int received() {
    absl::MutexLock lock(&mu_);
    return received_;
  }

 private:
  absl::Mutex mu_;
  std::vector<weir::v1::FlowBatch> stored_;
  uint64_t high_water_ = 0;
  int received_ = 0;
  std::map<uint64_t, int> received_by_seq_;
  int break_after_ = 0;
  uint64_t refuse_seq_ = 0;
};

class Server {
 public:
  // Listens on `port` (0: any free port).
  explicit Server(int port = 0) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort(absl::StrCat("127.0.0.1:", port),
                             grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
  }
  ~Server() { server_->Shutdown(absl::ToChronoTime(absl::Now())); }
  int port() const { return port_; }
  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }
  RecordingIngest& service() { return service_; }

 private:
  RecordingIngest service_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

weir::v1::FlowBatch Batch(uint64_t seq, uint64_t packets) {
  weir::v1::FlowBatch batch;
  batch.set_node("node-a");
  batch.set_epoch(42);
  batch.set_seq(seq);
  weir::v1::IngestFlow* flow = batch.add_flows();
  flow->set_packets(packets);
  flow->set_bytes(packets * 100);
  batch.mutable_counters()->set_packets_seen(packets);
  batch.mutable_counters()->set_bytes_seen(packets * 100);
  batch.mutable_counters()->set_packets_exported(packets);
  batch.mutable_counters()->set_bytes_exported(packets * 100);
  return batch;
}

ShipperOptions Options(const std::string& address) {
  ShipperOptions options;
  options.address = address;
  options.min_backoff = absl::Milliseconds(20);
  options.max_backoff = absl::Milliseconds(200);
  return options;
}

// Reconciliation over what queryd stored: everything seen is exported or
// lost, every loss under `reason`. Returns the packets lost.
uint64_t ExpectReconciles(const std::vector<weir::v1::FlowBatch>& stored,
                          uint64_t sent_packets, weir::v1::LossReason reason) {
  uint64_t seen = 0, exported = 0, lost = 0;
  for (const auto& batch : stored) {
    seen += batch.counters().packets_seen();
    exported += batch.counters().packets_exported();
    for (const auto& loss : batch.counters().losses()) {
      EXPECT_EQ(loss.reason(), reason);
      lost += loss.packets();
    }
  }
  EXPECT_EQ(seen, sent_packets);
  EXPECT_EQ(seen, exported + lost);
  return lost;
}

TEST(ShipperTest, DeliversInOrderAndDropsAcked) {
  Server server;
  Shipper shipper(Options(server.address()),
                  grpc::InsecureChannelCredentials());
  for (uint64_t seq = 1; seq <= 20; ++seq) shipper.Enqueue(Batch(seq, seq));
  ASSERT_TRUE(shipper.Flush(absl::Seconds(10)));
  EXPECT_EQ(Seqs(server.service().stored()),
            (std::vector<uint64_t>{1,  2,  3,  4,  5,  6,  7,  8,  9,  10,
                                   11, 12, 13, 14, 15, 16, 17, 18, 19, 20}));
  const ShipperStats stats = shipper.stats();
  EXPECT_EQ(stats.batches_acked, 20u);
  EXPECT_TRUE(stats.connected);
  EXPECT_EQ(stats.unacked, 0u);
  EXPECT_EQ(stats.batches_dropped, 0u);
}

TEST(ShipperTest, OneStreamCarriesBatchesEnqueuedOverTime) {
  Server server;
  Shipper shipper(Options(server.address()),
                  grpc::InsecureChannelCredentials());
  for (uint64_t seq = 1; seq <= 5; ++seq) {
    shipper.Enqueue(Batch(seq, 1));
    absl::SleepFor(absl::Milliseconds(150));
  }
  ASSERT_TRUE(shipper.Flush(absl::Seconds(10)));
  EXPECT_EQ(shipper.stats().reconnects, 0u);
  EXPECT_TRUE(shipper.stats().connected);
}

TEST(ShipperTest, QueuesWhileQuerydIsDownAndDeliversWhenItComes) {
  int port;
  {
    Server probe;  // find a free port, then free it
    port = probe.port();
  }
  Shipper shipper(Options(absl::StrCat("127.0.0.1:", port)),
                  grpc::InsecureChannelCredentials());
  for (uint64_t seq = 1; seq <= 5; ++seq) shipper.Enqueue(Batch(seq, 10));
  EXPECT_FALSE(shipper.Flush(absl::Milliseconds(300)));
  EXPECT_EQ(shipper.stats().unacked, 5u);

  Server server(port);
  ASSERT_TRUE(shipper.Flush(absl::Seconds(10)));
  EXPECT_EQ(Seqs(server.service().stored()),
            (std::vector<uint64_t>{1, 2, 3, 4, 5}));
}

TEST(ShipperTest, ReconnectsWhenQuerydComesBackOnTheSamePort) {
  auto first = std::make_unique<Server>();
  const int port = first->port();
  ShipperOptions options = Options(first->address());
  options.max_backoff = absl::Seconds(2);
  Shipper shipper(options, grpc::InsecureChannelCredentials());
  shipper.Enqueue(Batch(1, 1));
  ASSERT_TRUE(shipper.Flush(absl::Seconds(10)));
  first.reset();  // queryd goes away
  for (uint64_t seq = 2; seq <= 4; ++seq) shipper.Enqueue(Batch(seq, 1));
  absl::SleepFor(absl::Seconds(1));
  Server second(port);
  ASSERT_TRUE(shipper.Flush(absl::Seconds(15))) << shipper.stats().last_error;
  EXPECT_EQ(Seqs(second.service().stored()), (std::vector<uint64_t>{2, 3, 4}));
}

TEST(ShipperTest, ResendsUnackedAfterABrokenStreamAndStoresOnce) {
  Server server;
  server.service().BreakAfter(3);  // the 3rd batch breaks the stream unacked
  Shipper shipper(Options(server.address()),
                  grpc::InsecureChannelCredentials());
  for (uint64_t seq = 1; seq <= 8; ++seq) shipper.Enqueue(Batch(seq, 1));
  ASSERT_TRUE(shipper.Flush(absl::Seconds(10)));
  // Every seq exactly once, in order.
  EXPECT_EQ(Seqs(server.service().stored()),
            (std::vector<uint64_t>{1, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_GE(shipper.stats().reconnects, 1u);
  EXPECT_GE(shipper.stats().batches_resent, 1u);
}

TEST(ShipperTest, BoundDropsOldestAndCarriesItsTrafficAsLoss) {
  int port;
  {
    Server probe;
    port = probe.port();
  }
  ShipperOptions options = Options(absl::StrCat("127.0.0.1:", port));
  options.max_unacked = 3;
  Shipper shipper(options, grpc::InsecureChannelCredentials());
  uint64_t sent_packets = 0;
  for (uint64_t seq = 1; seq <= 5; ++seq) {  // 1 and 2 are dropped
    shipper.Enqueue(Batch(seq, seq * 10));
    sent_packets += seq * 10;
  }
  EXPECT_EQ(shipper.stats().batches_dropped, 2u);
  EXPECT_EQ(shipper.stats().packets_dropped, 30u);
  shipper.Enqueue(Batch(6, 60));
  sent_packets += 60;
  EXPECT_EQ(shipper.stats().batches_dropped, 3u);  // 3 is dropped now

  shipper.Enqueue(Batch(7, 70));
  sent_packets += 70;
  EXPECT_EQ(shipper.stats().batches_dropped, 4u);

  Server server(port);
  ASSERT_TRUE(shipper.Flush(absl::Seconds(10)));

  const std::vector<weir::v1::FlowBatch> stored = server.service().stored();
  EXPECT_EQ(Seqs(stored), (std::vector<uint64_t>{5, 6, 7}));
  // The loss is exactly the dropped batches, under UNACKED_BOUND.
  EXPECT_EQ(ExpectReconciles(stored, sent_packets,
                             weir::v1::LOSS_REASON_UNACKED_BOUND),
            10u + 20u + 30u + 40u);
  // Each dropped batch's traffic rides on the next batch enqueued: 5 carries
  // 2, 6 carries 3, and 7 carries 4 together with the loss 4 carried for 1.
  EXPECT_EQ(stored[0].counters().losses(0).packets(), 20u);
  EXPECT_EQ(stored[1].counters().losses(0).packets(), 30u);
  EXPECT_EQ(stored[2].counters().losses(0).packets(), 40u + 10u);
}

TEST(ShipperTest, ABatchRefusedAsMalformedIsDroppedOnceAndCountedAsRejected) {
  Server server;
  server.service().Refuse(3);
  Shipper shipper(Options(server.address()),
                  grpc::InsecureChannelCredentials());
  uint64_t sent_packets = 0;
  // All at once: 4 to 6 are sent behind 3 before queryd refuses it, and go
  // again on the next stream.
  for (uint64_t seq = 1; seq <= 6; ++seq) {
    shipper.Enqueue(Batch(seq, seq * 10));
    sent_packets += seq * 10;
  }
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (shipper.stats().batches_rejected == 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  // The next batch carries 3's accounting.
  shipper.Enqueue(Batch(7, 70));
  sent_packets += 70;
  ASSERT_TRUE(shipper.Flush(absl::Seconds(10))) << shipper.stats().last_error;

  const ShipperStats stats = shipper.stats();
  EXPECT_EQ(stats.batches_rejected, 1u);
  EXPECT_EQ(stats.packets_rejected, 30u);
  EXPECT_EQ(stats.batches_dropped, 0u);
  EXPECT_NE(stats.last_error.find("batch 3 is malformed"), std::string::npos)
      << stats.last_error;
  // Refused once, never resent; every other batch stored once, in order.
  EXPECT_EQ(server.service().received(3), 1);
  const std::vector<weir::v1::FlowBatch> stored = server.service().stored();
  EXPECT_EQ(Seqs(stored), (std::vector<uint64_t>{1, 2, 4, 5, 6, 7}));

  // The loss is exactly the refused batch, under REJECTED.
  EXPECT_EQ(
      ExpectReconciles(stored, sent_packets, weir::v1::LOSS_REASON_REJECTED),
      30u);
  ASSERT_EQ(stored.back().counters().losses_size(), 1);
  EXPECT_EQ(stored.back().counters().losses(0).packets(), 30u);
  EXPECT_EQ(stored.back().counters().losses(0).bytes(), 3000u);
}

TEST(ShipperTest, AnUnavailableQuerydIsNotARefusal) {
  Server server;
  server.service().BreakAfter(2);  // batch 2 ends the stream UNAVAILABLE
  Shipper shipper(Options(server.address()),
                  grpc::InsecureChannelCredentials());
  for (uint64_t seq = 1; seq <= 3; ++seq) shipper.Enqueue(Batch(seq, 1));
  ASSERT_TRUE(shipper.Flush(absl::Seconds(10)));
  EXPECT_EQ(Seqs(server.service().stored()), (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(shipper.stats().batches_rejected, 0u);
  EXPECT_EQ(server.service().received(2), 2);  // resent
}

// With a spool (on_acked set): no drop at max_unacked, every ack reported in
// order, and batches the spool dropped are forgotten if never sent.
TEST(ShipperTest, WithASpoolItNeverDropsAndReportsEachAck) {
  int port;
  {
    Server probe;  // find a free port, then free it
    port = probe.port();
  }
  absl::Mutex mu;
  std::vector<uint64_t> acked;
  ShipperOptions options = Options(absl::StrCat("127.0.0.1:", port));
  options.max_unacked = 3;
  options.on_acked = [&](uint64_t epoch, uint64_t seq) {
    EXPECT_EQ(epoch, 42u);
    absl::MutexLock lock(&mu);
    acked.push_back(seq);
  };
  Shipper shipper(options, grpc::InsecureChannelCredentials());
  for (uint64_t seq = 1; seq <= 10; ++seq) shipper.Enqueue(Batch(seq, seq));
  EXPECT_EQ(shipper.stats().unacked, 10u);
  // queryd is down: the first stream fails at its first write, so seqs 5
  // and 7 were never sent; seq 99 is not queued.
  EXPECT_EQ(shipper.Forget({{42, 5}, {42, 7}, {42, 99}}), 2u);
  EXPECT_EQ(shipper.stats().unacked, 8u);

  Server server(port);
  ASSERT_TRUE(shipper.Flush(absl::Seconds(20)));
  const std::vector<uint64_t> want = {1, 2, 3, 4, 6, 8, 9, 10};
  EXPECT_EQ(Seqs(server.service().stored()), want);
  {
    absl::MutexLock lock(&mu);
    EXPECT_EQ(acked, want);
  }
  EXPECT_EQ(shipper.stats().batches_dropped, 0u);
  // Nothing was carried: Enqueue folded nothing in.
  for (const weir::v1::FlowBatch& b : server.service().stored()) {
    EXPECT_EQ(b.counters().packets_seen(), b.seq());
  }
  const Carried carried = shipper.TakeCarried();
  EXPECT_EQ(carried.counters.packets_seen(), 0u);
  EXPECT_TRUE(carried.rejected.empty());
}

// With a spool a refused batch's accounting is taken by the caller (to be
// folded in before the next batch is spooled), naming the batch, and not
// folded into a batch already queued.
TEST(ShipperTest, WithASpoolARefusedBatchIsTakenWithItsId) {
  Server server;
  server.service().Refuse(2);
  std::vector<uint64_t> acked;
  ShipperOptions options = Options(server.address());
  options.on_acked = [&](uint64_t, uint64_t seq) { acked.push_back(seq); };
  Shipper shipper(options, grpc::InsecureChannelCredentials());
  for (uint64_t seq = 1; seq <= 3; ++seq) shipper.Enqueue(Batch(seq, seq * 10));
  ASSERT_TRUE(shipper.Flush(absl::Seconds(20)));
  EXPECT_EQ(Seqs(server.service().stored()), (std::vector<uint64_t>{1, 3}));
  EXPECT_EQ(acked, (std::vector<uint64_t>{1, 3}));
  EXPECT_EQ(server.service().stored()[1].counters().packets_seen(), 30u);

  Carried carried = shipper.TakeCarried();
  ASSERT_EQ(carried.rejected.size(), 1u);
  EXPECT_EQ(carried.rejected[0], (std::pair<uint64_t, uint64_t>{42, 2}));
  EXPECT_EQ(carried.counters.packets_seen(), 20u);
  EXPECT_EQ(carried.counters.packets_exported(), 0u);
  ASSERT_EQ(carried.counters.losses_size(), 1);
  EXPECT_EQ(carried.counters.losses(0).reason(),
            weir::v1::LOSS_REASON_REJECTED);
  EXPECT_EQ(carried.counters.losses(0).packets(), 20u);

  weir::v1::FlowBatch next = Batch(4, 5);
  FoldCarriedCounters(carried.counters, next.mutable_counters());
  EXPECT_EQ(next.counters().packets_seen(), 25u);
  EXPECT_EQ(next.counters().packets_exported(), 5u);
  EXPECT_TRUE(shipper.TakeCarried().rejected.empty());
}

TEST(CountersTest, AddMergesByReason) {
  weir::v1::Counters a, b;
  AddLoss(weir::v1::LOSS_REASON_MAP_FULL, 2, 200, &a);
  AddLoss(weir::v1::LOSS_REASON_NON_IP, 1, 60, &b);
  AddLoss(weir::v1::LOSS_REASON_MAP_FULL, 3, 300, &b);
  AddLoss(weir::v1::LOSS_REASON_MAP_FULL, 0, 0, &b);  // no empty entries
  b.set_packets_seen(9);
  AddCounters(b, &a);
  EXPECT_EQ(a.packets_seen(), 9u);
  ASSERT_EQ(a.losses_size(), 2);
  EXPECT_EQ(a.losses(0).reason(), weir::v1::LOSS_REASON_MAP_FULL);
  EXPECT_EQ(a.losses(0).packets(), 5u);
  EXPECT_EQ(a.losses(0).bytes(), 500u);
  EXPECT_EQ(a.losses(1).packets(), 1u);
}

}  // namespace
}  // namespace weir::collector
