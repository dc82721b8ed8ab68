#include "engine/json_canonical.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "engine/utf8.hpp"

namespace dbsync::detail {
namespace {

// Valid UTF-8 without control characters (which JSON strings may not hold raw).
bool plain_utf8(std::string_view s) {
  for (char c : s)
    if (static_cast<unsigned char>(c) < 0x20) return false;
  return utf8_char_count(s) >= 0;
}

class Canonicalizer {
 public:
  Canonicalizer(std::string_view in, std::string& out, int max_depth)
      : in_(in), out_(out), max_depth_(max_depth) {}

  bool document() {
    if (!value(0)) return false;
    skip_space();
    return pos_ == in_.size();
  }

 private:
  struct Member {
    std::string_view key;
    size_t begin, end;  // the value's canonical text in out_
  };

  void skip_space() {
    while (pos_ < in_.size() &&
           (in_[pos_] == ' ' || in_[pos_] == '\t' || in_[pos_] == '\n' || in_[pos_] == '\r'))
      ++pos_;
  }

  // A string at pos_ (its opening quote): its raw contents, which need no escaping.
  bool string(std::string_view& raw) {
    ++pos_;
    const size_t start = pos_;
    const size_t close = in_.find('"', start);
    if (close == std::string_view::npos) return false;
    raw = in_.substr(start, close - start);
    if (raw.find('\\') != std::string_view::npos || !plain_utf8(raw)) return false;
    pos_ = close + 1;
    return true;
  }

  bool literal(std::string_view word) {
    if (in_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    out_ += word;
    return true;
  }

  bool number() {
    const size_t start = pos_;
    if (in_[pos_] == '-') ++pos_;
    const size_t digits = pos_;
    while (pos_ < in_.size() && in_[pos_] >= '0' && in_[pos_] <= '9') ++pos_;
    const size_t count = pos_ - digits;
    if (count == 0 || count > 18) return false;
    if (in_[digits] == '0' && (count > 1 || digits > start)) return false;  // 01, -0
    if (pos_ < in_.size() && (in_[pos_] == '.' || in_[pos_] == 'e' || in_[pos_] == 'E'))
      return false;
    out_.append(in_.substr(start, pos_ - start));
    return true;
  }

  bool value(int depth) {
    skip_space();
    if (pos_ >= in_.size()) return false;
    switch (in_[pos_]) {
      case '{':
        return depth < max_depth_ && object(depth);
      case '[':
        return depth < max_depth_ && array(depth);
      case '"': {
        std::string_view raw;
        if (!string(raw)) return false;
        out_.push_back('"');
        out_.append(raw);
        out_.push_back('"');
        return true;
      }
      case 't':
        return literal("true");
      case 'f':
        return literal("false");
      case 'n':
        return literal("null");
      default:
        return number();
    }
  }

  bool array(int depth) {
    ++pos_;
    out_.push_back('[');
    skip_space();
    if (pos_ < in_.size() && in_[pos_] == ']') {
      ++pos_;
      out_.push_back(']');
      return true;
    }
    for (;;) {
      if (!value(depth + 1)) return false;
      skip_space();
      if (pos_ >= in_.size()) return false;
      if (in_[pos_] == ']') {
        ++pos_;
        out_.push_back(']');
        return true;
      }
      if (in_[pos_] != ',') return false;
      ++pos_;
      out_.push_back(',');
    }
  }

  bool object(int depth) {
    ++pos_;
    const size_t start = out_.size();
    std::vector<Member> members;
    skip_space();
    if (pos_ < in_.size() && in_[pos_] == '}') {
      ++pos_;
      out_ += "{}";
      return true;
    }
    for (;;) {
      skip_space();
      if (pos_ >= in_.size() || in_[pos_] != '"') return false;
      std::string_view key;
      if (!string(key)) return false;
      skip_space();
      if (pos_ >= in_.size() || in_[pos_] != ':') return false;
      ++pos_;
      const size_t begin = out_.size();
      if (!value(depth + 1)) return false;
      members.push_back({key, begin, out_.size()});
      skip_space();
      if (pos_ >= in_.size()) return false;
      if (in_[pos_] == '}') {
        ++pos_;
        break;
      }
      if (in_[pos_] != ',') return false;
      ++pos_;
    }
    // Keys in byte order; of equal keys the last one written wins.
    std::stable_sort(members.begin(), members.end(),
                     [](const Member& a, const Member& b) { return a.key < b.key; });
    std::string rebuilt;
    rebuilt.reserve(out_.size() - start + members.size() * 4 + 2);
    rebuilt.push_back('{');
    bool first = true;
    for (size_t i = 0; i < members.size(); ++i) {
      if (i + 1 < members.size() && members[i + 1].key == members[i].key) continue;
      if (!first) rebuilt.push_back(',');
      first = false;
      rebuilt.push_back('"');
      rebuilt.append(members[i].key);
      rebuilt += "\":";
      rebuilt.append(out_, members[i].begin, members[i].end - members[i].begin);
    }
    rebuilt.push_back('}');
    out_.resize(start);
    out_ += rebuilt;
    return true;
  }

  std::string_view in_;
  std::string& out_;
  int max_depth_;
  size_t pos_ = 0;
};

}  // namespace

bool canonical_json_fast(std::string_view json_text, std::string& out, int max_depth) {
  return Canonicalizer(json_text, out, max_depth).document();
}

}  // namespace dbsync::detail
