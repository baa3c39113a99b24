#include "queryd/auth/authorizer.h"

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"

namespace weir::queryd::auth {
namespace {

absl::StatusOr<std::string> ReadWhole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::ErrnoToStatus(errno, absl::StrCat("cannot read ", path));
  }
  std::ostringstream out;
  out << in.rdbuf();
  if (in.bad()) {
    return absl::ErrnoToStatus(errno, absl::StrCat("cannot read ", path));
  }
  return out.str();
}

}  // namespace

Authorizer::Authorizer(AuthorizerOptions options)
    : options_(std::move(options)) {}

absl::StatusOr<std::unique_ptr<Authorizer>> Authorizer::Open(
    AuthorizerOptions options) {
  std::unique_ptr<Authorizer> authorizer(new Authorizer(std::move(options)));
  absl::MutexLock lock(&authorizer->mu_);
  absl::Status loaded = authorizer->Load(/*force=*/true);
  if (!loaded.ok()) return loaded;
  authorizer->last_check_ = absl::Now();
  return authorizer;
}

void Authorizer::Log(absl::string_view line) const {
  if (options_.log) {
    options_.log(line);
    return;
  }
  std::fprintf(stderr, "weir-queryd: %.*s\n", static_cast<int>(line.size()),
               line.data());
}

absl::Status Authorizer::Load(bool force) {
  const std::string& path = options_.token_file;
  const std::optional<FileStamp> stamp = StampOf(path);
  if (!stamp.has_value()) {
    const int error = errno;
    // A missing file is told once, not at every recheck.
    if (!force && refused_.has_value() && *refused_ == FileStamp{}) {
      return absl::OkStatus();
    }
    refused_ = FileStamp{};
    return absl::ErrnoToStatus(
        error, absl::StrCat("--token-file: cannot read ", path));
  }
  const FileStamp& id = *stamp;
  if (!force && ((loaded_.has_value() && *loaded_ == id) ||
                 (refused_.has_value() && *refused_ == id))) {
    return absl::OkStatus();
  }
  absl::StatusOr<std::string> contents = ReadWhole(path);
  if (!contents.ok()) {
    refused_ = id;
    return absl::Status(
        contents.status().code(),
        absl::StrCat("--token-file: ", contents.status().message()));
  }
  absl::StatusOr<TokenTable> table = TokenTable::Parse(*contents, path);
  if (!table.ok()) {
    refused_ = id;
    return absl::InvalidArgumentError(
        absl::StrCat("--token-file: ", table.status().message()));
  }
  table_ = std::make_shared<const TokenTable>(*std::move(table));
  loaded_ = id;
  refused_.reset();
  return absl::OkStatus();
}

void Authorizer::Reload() {
  absl::MutexLock lock(&mu_);
  last_check_ = absl::Now();
  const size_t before = table_->size();
  if (absl::Status s = Load(/*force=*/true); !s.ok()) {
    Log(absl::StrCat(s.message(), "; the ", before,
                     " tokens loaded before stay in use"));
    return;
  }
  Log(absl::StrCat("--token-file ", options_.token_file, ": ", table_->size(),
                   " tokens (re-read)"));
}

size_t Authorizer::tokens() const {
  absl::MutexLock lock(&mu_);
  return table_->size();
}

absl::Status Authorizer::Authorize(
    std::optional<absl::string_view> authorization, Scope needed,
    absl::string_view what) {
  std::shared_ptr<const TokenTable> table;
  {
    absl::MutexLock lock(&mu_);
    const absl::Time now = absl::Now();
    if (now - last_check_ >= options_.recheck_interval) {
      last_check_ = now;
      const std::optional<FileStamp> before = loaded_;
      const size_t before_tokens = table_->size();
      if (absl::Status s = Load(/*force=*/false); !s.ok()) {
        Log(absl::StrCat(s.message(), "; the ", before_tokens,
                         " tokens loaded before stay in use"));
      } else if (!(loaded_ == before)) {
        Log(absl::StrCat("--token-file ", options_.token_file, ": ",
                         table_->size(), " tokens (the file changed)"));
      }
    }
    table = table_;
  }
  const absl::string_view scope = ScopeName(needed);
  if (!authorization.has_value()) {
    return absl::UnauthenticatedError(
        absl::StrCat(what, " needs a bearer token with scope ", scope,
                     " (Authorization: Bearer <token>)"));
  }
  absl::StatusOr<absl::string_view> token = ParseBearer(*authorization);
  if (!token.ok()) {
    return absl::UnauthenticatedError(
        absl::StrCat(token.status().message(), "; ", what,
                     " needs a bearer token with scope ", scope));
  }
  const TokenEntry* entry = table->Find(*token);
  if (entry == nullptr) {
    return absl::UnauthenticatedError(
        absl::StrCat("the bearer token is not known (mistyped or revoked); ",
                     what, " needs a token with scope ", scope));
  }
  if (!entry->Grants(needed)) {
    return absl::PermissionDeniedError(absl::StrCat(
        "token \"", entry->name, "\" has scope ", entry->ScopeList(), "; ",
        what, " needs a token with scope ", scope));
  }
  return absl::OkStatus();
}

grpc::Status AuthorizeCall(Authorizer* authorizer,
                           const grpc::ServerContextBase& context,
                           Scope needed) {
  if (authorizer == nullptr) return grpc::Status::OK;
  const auto& metadata = context.client_metadata();
  const auto [first, last] = metadata.equal_range("authorization");
  absl::Status status;
  if (first == last) {
    status = authorizer->Authorize(std::nullopt, needed);
  } else if (std::next(first) != last) {
    status = absl::UnauthenticatedError(
        "authorization: sent more than once; send one bearer token");
  } else {
    status = authorizer->Authorize(
        absl::string_view(first->second.data(), first->second.size()), needed);
  }
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

}  // namespace weir::queryd::auth
