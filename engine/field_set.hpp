// A set of field positions (mapped columns), used for "changed on the source", "changed on the
// target" and "in conflict". Reused across rows without reallocating.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace dbsync {

class FieldSet {
 public:
  FieldSet() = default;
  explicit FieldSet(size_t size) { reset(size); }

  void reset(size_t size) {
    size_ = size;
    words_.assign((size + 63) / 64, 0);
  }
  size_t size() const { return size_; }
  void set(size_t i) { words_[i / 64] |= (uint64_t{1} << (i % 64)); }
  void clear(size_t i) { words_[i / 64] &= ~(uint64_t{1} << (i % 64)); }
  bool test(size_t i) const { return (words_[i / 64] >> (i % 64)) & 1; }
  bool any() const {
    for (uint64_t w : words_)
      if (w) return true;
    return false;
  }
  size_t count() const {
    size_t n = 0;
    for (uint64_t w : words_) n += static_cast<size_t>(__builtin_popcountll(w));
    return n;
  }
  bool intersects(const FieldSet& o) const {
    for (size_t i = 0; i < words_.size() && i < o.words_.size(); ++i)
      if (words_[i] & o.words_[i]) return true;
    return false;
  }
  FieldSet operator&(const FieldSet& o) const {
    FieldSet r = *this;
    for (size_t i = 0; i < r.words_.size() && i < o.words_.size(); ++i) r.words_[i] &= o.words_[i];
    return r;
  }
  FieldSet operator|(const FieldSet& o) const {
    FieldSet r = *this;
    for (size_t i = 0; i < r.words_.size() && i < o.words_.size(); ++i) r.words_[i] |= o.words_[i];
    return r;
  }
  bool operator==(const FieldSet& o) const { return size_ == o.size_ && words_ == o.words_; }

  template <typename F>
  void for_each(F&& f) const {
    for (size_t i = 0; i < size_; ++i)
      if (test(i)) f(i);
  }

 private:
  size_t size_ = 0;
  std::vector<uint64_t> words_;
};

}  // namespace dbsync
