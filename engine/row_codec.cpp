#include "engine/row_codec.hpp"

#include <algorithm>
#include <cstring>
#include <map>

#include "engine/decimal.hpp"

namespace dbsync {

namespace {

// Row encoding: a value's tag is its ValueType, but for JSON kept as written (not canonical).
constexpr uint8_t kJsonAsWrittenTag = 0x40 | static_cast<uint8_t>(ValueType::kJson);

// ---- sortable keys ----

void put_be64(std::string& out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((v >> (i * 8)) & 0xff));
}
uint64_t get_be64(std::string_view s, size_t pos) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(s[pos + i]);
  return v;
}

// Bytes with 0x00 escaped as 00 FF, terminated by 00 01: memcmp order = bytewise order.
void put_escaped(std::string& out, std::string_view s) {
  for (char c : s) {
    out.push_back(c);
    if (c == '\0') out.push_back('\xff');
  }
  out.push_back('\0');
  out.push_back('\x01');
}
bool get_escaped(std::string_view s, size_t& pos, std::string& out) {
  out.clear();
  while (pos < s.size()) {
    char c = s[pos++];
    if (c != '\0') {
      out.push_back(c);
      continue;
    }
    if (pos >= s.size()) return false;
    char n = s[pos++];
    if (n == '\x01') return true;
    if (n != '\xff') return false;
    out.push_back('\0');
  }
  return false;
}

// Decimal: sign class, then (for nonzero) a biased exponent and the significant digits,
// complemented when negative, then the exact text (so 10.5 and 10.50 keep their scale).
// A decimal's class byte, then (for nonzero finite numbers) exponent and digits, then the text:
// 0x00 -Infinity, 0x01 negative, 0x02 zero, 0x03 positive, 0x04 Infinity, 0x05 NaN (PostgreSQL's
// order).
void put_decimal(std::string& out, const std::string& canonical) {
  if (decimal::is_special(canonical)) {
    out.push_back(decimal::is_nan(canonical) ? '\x05' : canonical[0] == '-' ? '\x00' : '\x04');
    put_escaped(out, canonical);
    return;
  }
  std::string_view d = canonical;
  bool neg = !d.empty() && d[0] == '-';
  if (neg) d.remove_prefix(1);
  std::string digits;
  int64_t exponent = 0;  // value = 0.digits * 10^exponent
  size_t dot = d.find('.');
  std::string_view ip = d.substr(0, dot),
                   fp = dot == std::string_view::npos ? "" : d.substr(dot + 1);
  if (!(ip.size() == 1 && ip[0] == '0')) {
    digits.assign(ip);
    exponent = static_cast<int64_t>(ip.size());
    digits.append(fp);
  } else {
    size_t lead = 0;
    while (lead < fp.size() && fp[lead] == '0') ++lead;
    exponent = -static_cast<int64_t>(lead);
    digits.assign(fp.substr(lead));
  }
  while (!digits.empty() && digits.back() == '0') digits.pop_back();
  if (digits.empty()) {
    out.push_back('\x02');  // zero
  } else {
    out.push_back(neg ? '\x01' : '\x03');
    std::string body;
    put_be64(body, static_cast<uint64_t>(exponent) ^ 0x8000000000000000ULL);
    body.append(digits);
    body.push_back('\0');  // '0'..'9' > 0: a shorter digit string sorts first
    if (neg)
      for (char& c : body) c = static_cast<char>(~static_cast<uint8_t>(c));
    out.append(body);
  }
  put_escaped(out, canonical);
}

uint64_t flip_int(int64_t v) { return static_cast<uint64_t>(v) ^ 0x8000000000000000ULL; }

uint64_t flip_double(double d) {
  if (d == 0) d = 0;  // -0.0 == 0.0
  uint64_t bits;
  std::memcpy(&bits, &d, 8);
  return (bits & 0x8000000000000000ULL) ? ~bits : bits | 0x8000000000000000ULL;
}
double unflip_double(uint64_t bits) {
  bits = (bits & 0x8000000000000000ULL) ? bits & ~0x8000000000000000ULL : ~bits;
  double d;
  std::memcpy(&d, &bits, 8);
  return d;
}

// ---- compact encoding ----

class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}
  void u8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void varint(uint64_t v) {
    while (v >= 0x80) {
      out_.push_back(static_cast<char>((v & 0x7f) | 0x80));
      v >>= 7;
    }
    out_.push_back(static_cast<char>(v));
  }
  void i64(int64_t v) { varint((static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63)); }
  void u64(uint64_t v) {  // little-endian, 8 bytes
    char b[8];
    for (int i = 0; i < 8; ++i) b[i] = static_cast<char>((v >> (i * 8)) & 0xff);
    out_.append(b, 8);
  }
  void str(std::string_view s) {
    varint(s.size());
    out_.append(s);
  }
  void value(const Value& v) {
    // JSON kept as written (not canonical) has a tag of its own, so it reads back as such.
    u8(v.type() == ValueType::kJson && !v.json_is_canonical() ? kJsonAsWrittenTag
                                                              : static_cast<uint8_t>(v.type()));
    switch (v.type()) {
      case ValueType::kNull:
        break;
      case ValueType::kBool:
        u8(v.as_bool() ? 1 : 0);
        break;
      case ValueType::kInt:
      case ValueType::kTimestamp:
      case ValueType::kTime:
        i64(v.as_int());
        break;
      case ValueType::kDate:
        i64(v.days());
        break;
      case ValueType::kFloat: {
        uint64_t bits;
        double d = v.as_float();
        std::memcpy(&bits, &d, 8);
        u64(bits);
        break;
      }
      case ValueType::kDecimal:
      case ValueType::kText:
      case ValueType::kBytes:
      case ValueType::kJson:
        str(v.str());
        break;
    }
  }
  void row(const Row& r) {
    varint(r.size());
    for (const Value& v : r) value(v);
  }
  void opt_row(const std::optional<Row>& r) {
    u8(r ? 1 : 0);
    if (r) row(*r);
  }
  void hashes(const std::vector<uint64_t>& h) {
    varint(h.size());
    const size_t at = out_.size();
    out_.resize(at + 8 * h.size());
    char* p = out_.data() + at;
    for (uint64_t x : h)
      for (int i = 0; i < 8; ++i) *p++ = static_cast<char>((x >> (i * 8)) & 0xff);
  }
  void fields(const FieldSet& f) {
    varint(f.size());
    for (size_t i = 0; i < f.size(); i += 8) {
      uint8_t b = 0;
      for (size_t j = 0; j < 8 && i + j < f.size(); ++j)
        if (f.test(i + j)) b |= static_cast<uint8_t>(1u << j);
      u8(b);
    }
  }
  // The target side is usually identical to the source side: then it is not written twice.
  void baseline(const BaselineEntry& e, bool with_key) {
    if (with_key) row(e.key);
    bool same = e.source_hash == e.target_hash && e.source_fields == e.target_fields;
    const bool fps = e.source_fp != 0 || e.target_fp != 0;
    u8(static_cast<uint8_t>((e.source_present ? 1 : 0) | (e.target_present ? 2 : 0) |
                            (same ? 4 : 0) | (fps ? 8 : 0)));
    if (fps) {
      varint(e.source_fp);
      varint(e.target_fp);
    }
    u64(e.source_hash);
    hashes(e.source_fields);
    if (!same) {
      u64(e.target_hash);
      hashes(e.target_fields);
    }
  }

 private:
  std::string& out_;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool ok() const { return ok_; }
  bool done() const { return pos_ == in_.size(); }
  uint8_t u8() {
    if (pos_ >= in_.size()) return fail(), 0;
    return static_cast<uint8_t>(in_[pos_++]);
  }
  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      uint8_t b = u8();
      if (!ok_) return 0;
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
    fail();
    return 0;
  }
  int64_t i64() {
    uint64_t z = varint();
    return static_cast<int64_t>((z >> 1) ^ (~(z & 1) + 1));
  }
  uint64_t u64() {
    if (pos_ + 8 > in_.size()) return fail(), 0;
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i)
      v |= static_cast<uint64_t>(static_cast<uint8_t>(in_[pos_ + i])) << (i * 8);
    pos_ += 8;
    return v;
  }
  std::string str() {
    uint64_t n = varint();
    if (!ok_ || n > in_.size() - pos_) return fail(), std::string();
    std::string s(in_.substr(pos_, n));
    pos_ += n;
    return s;
  }
  size_t count(size_t min_bytes_each) {
    uint64_t n = varint();
    if (!ok_ || n > (in_.size() - pos_) / std::max<size_t>(min_bytes_each, 1) + 1) return fail(), 0;
    return static_cast<size_t>(n);
  }
  Value value() {
    uint8_t t = u8();
    if (t == kJsonAsWrittenTag) return Value::json_as_written_unchecked(str());
    switch (static_cast<ValueType>(t)) {
      case ValueType::kNull:
        return {};
      case ValueType::kBool:
        return Value::boolean(u8() != 0);
      case ValueType::kInt:
        return Value::integer(i64());
      case ValueType::kTimestamp:
        return Value::timestamp(i64());
      case ValueType::kTime:
        return Value::time_of_day(i64());
      case ValueType::kDate:
        return Value::date(static_cast<int32_t>(i64()));
      case ValueType::kFloat: {
        uint64_t bits = u64();
        double d;
        std::memcpy(&d, &bits, 8);
        return Value::floating(d);
      }
      case ValueType::kDecimal:
        return Value::decimal_unchecked(str());
      case ValueType::kText:
        return Value::text(str());
      case ValueType::kBytes:
        return Value::bytes(str());
      case ValueType::kJson:
        return Value::json_unchecked(str());
    }
    fail();
    return {};
  }
  Row row() {
    size_t n = count(1);
    Row r;
    r.reserve(n);
    for (size_t i = 0; i < n && ok_; ++i) r.push_back(value());
    return r;
  }
  std::optional<Row> opt_row() {
    if (u8() == 0) return std::nullopt;
    return row();
  }
  std::vector<uint64_t> hashes() {
    std::vector<uint64_t> h;
    hashes_into(h);
    return h;
  }
  void hashes_into(std::vector<uint64_t>& h) {  // reuses h's storage
    size_t n = count(8);
    h.clear();
    h.reserve(n);
    for (size_t i = 0; i < n && ok_; ++i) h.push_back(u64());
  }
  FieldSet fields() {
    uint64_t n = varint();
    if (!ok_ || n > (in_.size() - pos_) * 8) return fail(), FieldSet();
    FieldSet f(n);
    for (size_t i = 0; i < n && ok_; i += 8) {
      uint8_t b = u8();
      for (size_t j = 0; j < 8 && i + j < n; ++j)
        if (b & (1u << j)) f.set(i + j);
    }
    return f;
  }
  BaselineEntry baseline(bool with_key) {
    BaselineEntry e;
    if (with_key) e.key = row();
    baseline_into(e);
    return e;
  }
  void baseline_into(BaselineEntry& e) {  // all but the key; reuses e's storage
    uint8_t flags = u8();
    if (flags > 15) fail();
    e.source_present = flags & 1;
    e.target_present = flags & 2;
    e.source_fp = e.target_fp = 0;
    if (flags & 8) {
      e.source_fp = varint();
      e.target_fp = varint();
    }
    e.source_hash = u64();
    hashes_into(e.source_fields);
    if (flags & 4) {
      e.target_hash = e.source_hash;
      e.target_fields = e.source_fields;
    } else {
      e.target_hash = u64();
      hashes_into(e.target_fields);
    }
  }
  void fail() {
    ok_ = false;
    pos_ = in_.size();
  }

 private:
  std::string_view in_;
  size_t pos_ = 0;
  bool ok_ = true;
};

constexpr uint8_t kChangeVersion = 3;    // 3: the write contract's expectations
constexpr uint8_t kConflictVersion = 2;  // 2: the rows' fingerprints

Status corrupt(const char* what) {
  return error(ErrorCode::kInvalidArgument, std::string("corrupt staged ") + what);
}

}  // namespace

std::string encode_sortable_key(const Row& key) {
  std::string out;
  for (const Value& v : key) {
    out.push_back(static_cast<char>(static_cast<uint8_t>(v.type()) + 1));
    switch (v.type()) {
      case ValueType::kNull:
        break;
      case ValueType::kBool:
        out.push_back(v.as_bool() ? '\x01' : '\x00');
        break;
      case ValueType::kInt:
      case ValueType::kTimestamp:
      case ValueType::kTime:
        put_be64(out, flip_int(v.as_int()));
        break;
      case ValueType::kDate:
        put_be64(out, flip_int(v.days()));
        break;
      case ValueType::kFloat:
        put_be64(out, flip_double(v.as_float()));
        break;
      case ValueType::kDecimal:
        put_decimal(out, v.str());
        break;
      case ValueType::kText:
      case ValueType::kBytes:
        put_escaped(out, v.str());
        break;
      case ValueType::kJson: {  // ordered as compare_values orders it: canonical
        std::string scratch;
        put_escaped(out, v.canonical_json(scratch));
        break;
      }
    }
  }
  return out;
}

Result<Row> decode_sortable_key(std::string_view s) {
  Row key;
  DBSYNC_RETURN_IF_ERROR(decode_sortable_key_into(s, key));
  return key;
}

Status decode_sortable_key_into(std::string_view s, Row& key) {
  key.clear();
  size_t pos = 0;
  std::string buf;
  auto bad = [] { return error(ErrorCode::kInvalidArgument, "corrupt sortable key"); };
  while (pos < s.size()) {
    uint8_t tag = static_cast<uint8_t>(s[pos++]);
    if (tag == 0 || tag > static_cast<uint8_t>(ValueType::kJson) + 1) return bad();
    ValueType t = static_cast<ValueType>(tag - 1);
    switch (t) {
      case ValueType::kNull:
        key.push_back({});
        break;
      case ValueType::kBool:
        if (pos >= s.size()) return bad();
        key.push_back(Value::boolean(s[pos++] != 0));
        break;
      case ValueType::kInt:
      case ValueType::kTimestamp:
      case ValueType::kTime:
      case ValueType::kDate:
      case ValueType::kFloat: {
        if (pos + 8 > s.size()) return bad();
        uint64_t raw = get_be64(s, pos);
        pos += 8;
        int64_t i = static_cast<int64_t>(raw ^ 0x8000000000000000ULL);
        if (t == ValueType::kInt)
          key.push_back(Value::integer(i));
        else if (t == ValueType::kTimestamp)
          key.push_back(Value::timestamp(i));
        else if (t == ValueType::kTime)
          key.push_back(Value::time_of_day(i));
        else if (t == ValueType::kDate)
          key.push_back(Value::date(static_cast<int32_t>(i)));
        else
          key.push_back(Value::floating(unflip_double(raw)));
        break;
      }
      case ValueType::kDecimal: {
        if (pos >= s.size()) return bad();
        uint8_t cls = static_cast<uint8_t>(s[pos++]);
        if (cls == 1 ||
            cls == 3) {  // skip exponent and digits up to the (possibly complemented) terminator
          if (pos + 8 > s.size()) return bad();
          pos += 8;
          char term = cls == 1 ? '\xff' : '\0';
          while (pos < s.size() && s[pos] != term) ++pos;
          if (pos >= s.size()) return bad();
          ++pos;
        }
        if (!get_escaped(s, pos, buf)) return bad();
        key.push_back(Value::decimal_unchecked(buf));
        break;
      }
      case ValueType::kText:
      case ValueType::kBytes:
      case ValueType::kJson:
        if (!get_escaped(s, pos, buf)) return bad();
        key.push_back(t == ValueType::kText    ? Value::text(buf)
                      : t == ValueType::kBytes ? Value::bytes(buf)
                                               : Value::json_unchecked(buf));
        break;
    }
  }
  return Status::ok();
}

void encode_row(const Row& row, std::string& out) { Writer(out).row(row); }

std::string encode_change(const PlannedChange& c) {
  std::string out;
  Writer w(out);
  w.u8(kChangeVersion);
  w.u8(static_cast<uint8_t>(c.kind));
  w.row(c.key);
  w.u8(static_cast<uint8_t>(c.target_op));
  w.row(c.target_values);
  w.u8(static_cast<uint8_t>(c.source_op));
  w.row(c.source_key);
  w.row(c.source_values);
  w.u8(static_cast<uint8_t>(c.baseline_op));
  if (c.baseline_op == BaselineOp::kSet) w.baseline(c.baseline, false);
  w.fields(c.changed);
  w.u8(c.restore_soft ? 1 : 0);
  w.u64(c.expect_target_fp);
  w.row(c.expect_target);
  w.u64(c.expect_source_fp);
  w.row(c.expect_source);
  return out;
}

Result<PlannedChange> decode_change(std::string_view bytes) {
  Reader r(bytes);
  // Version 2 (before the write contract) has no expectations: its writes are unconditional.
  const uint8_t version = r.u8();
  if (version != kChangeVersion && version != 2) return corrupt("change (unknown version)");
  PlannedChange c;
  c.kind = static_cast<DiffKind>(r.u8());
  c.key = r.row();
  c.target_op = static_cast<RowOp>(r.u8());
  c.target_values = r.row();
  c.source_op = static_cast<RowOp>(r.u8());
  c.source_key = r.row();
  c.source_values = r.row();
  c.baseline_op = static_cast<BaselineOp>(r.u8());
  if (c.baseline_op == BaselineOp::kSet) {
    c.baseline = r.baseline(false);
    c.baseline.key = c.key;
  }
  c.changed = r.fields();
  uint8_t flags = r.u8();
  c.restore_soft = flags & 1;
  if (version >= 3) {
    c.expect_target_fp = r.u64();
    c.expect_target = r.row();
    c.expect_source_fp = r.u64();
    c.expect_source = r.row();
  }
  if (!r.ok() || !r.done() || flags > 1 || c.kind > DiffKind::kRowError ||
      c.target_op > RowOp::kSoftDelete || c.source_op > RowOp::kSoftDelete ||
      c.baseline_op > BaselineOp::kErase)
    return corrupt("change");
  return c;
}

std::string encode_conflict(const ConflictRecord& c) {
  std::string out;
  Writer w(out);
  w.u8(kConflictVersion);
  w.u8(static_cast<uint8_t>(c.kind));
  w.row(c.key);
  w.opt_row(c.source);
  w.opt_row(c.target);
  w.opt_row(c.source_raw);
  w.u8(c.baseline ? 1 : 0);
  if (c.baseline) w.baseline(*c.baseline, true);
  w.fields(c.source_changed);
  w.fields(c.target_changed);
  w.fields(c.conflicting);
  w.str(c.reason);
  w.u64(c.source_fp);
  w.u64(c.target_fp);
  return out;
}

Result<ConflictRecord> decode_conflict(std::string_view bytes) {
  Reader r(bytes);
  const uint8_t version = r.u8();  // version 1: no fingerprints (decisions write unconditionally)
  if (version != kConflictVersion && version != 1) return corrupt("conflict (unknown version)");
  ConflictRecord c;
  c.kind = static_cast<DiffKind>(r.u8());
  c.key = r.row();
  c.source = r.opt_row();
  c.target = r.opt_row();
  c.source_raw = r.opt_row();
  if (r.u8()) c.baseline = r.baseline(true);
  c.source_changed = r.fields();
  c.target_changed = r.fields();
  c.conflicting = r.fields();
  c.reason = r.str();
  if (version >= 2) {
    c.source_fp = r.u64();
    c.target_fp = r.u64();
  }
  if (!r.ok() || !r.done() || c.kind > DiffKind::kRowError) return corrupt("conflict");
  return c;
}

std::string encode_baseline(const BaselineEntry& e) {
  std::string out;
  out.reserve(32 + 8 * e.source_fields.size());  // most entries: both sides alike
  Writer(out).baseline(e, false);
  return out;
}

Status decode_baseline_into(std::string_view bytes, BaselineEntry& entry) {
  Reader r(bytes);
  r.baseline_into(entry);
  if (!r.ok() || !r.done()) return corrupt("baseline entry");
  return Status::ok();
}

Result<BaselineEntry> decode_baseline(std::string_view bytes, Row key) {
  Reader r(bytes);
  BaselineEntry e = r.baseline(false);
  if (!r.ok() || !r.done()) return corrupt("baseline entry");
  e.key = std::move(key);
  return e;
}

BaselineWrites baseline_writes(const std::vector<PlannedChange>& changes) {
  // A batch from the differ comes in strictly ascending key order: one pass. Otherwise (a batch
  // of decisions, say) the last operation per key wins.
  std::vector<std::pair<std::string, const PlannedChange*>> last;
  last.reserve(changes.size());
  bool ascending = true;
  for (const PlannedChange& c : changes) {
    if (c.baseline_op == BaselineOp::kKeep) continue;
    std::string key = encode_sortable_key(c.key);
    if (!last.empty() && !(last.back().first < key)) ascending = false;
    last.emplace_back(std::move(key), &c);
  }
  if (!ascending) {
    std::stable_sort(last.begin(), last.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    size_t out = 0;
    for (size_t i = 0; i < last.size(); ++i) {
      if (i + 1 < last.size() && last[i + 1].first == last[i].first) continue;  // a later one wins
      if (out != i) last[out] = std::move(last[i]);  // never a self-move: it would empty the key
      ++out;
    }
    last.resize(out);
  }
  BaselineWrites w;
  for (auto& [key, c] : last) {
    if (c->baseline_op == BaselineOp::kSet &&
        (c->kind == DiffKind::kSourceInserted || c->kind == DiffKind::kTargetInserted)) {
      w.new_keys.push_back(std::move(key));
      w.new_states.push_back(encode_baseline(c->baseline));
    } else if (c->baseline_op == BaselineOp::kSet) {
      w.set_keys.push_back(std::move(key));
      w.set_states.push_back(encode_baseline(c->baseline));
    } else {
      w.erase_keys.push_back(std::move(key));
    }
  }
  return w;
}

}  // namespace dbsync
