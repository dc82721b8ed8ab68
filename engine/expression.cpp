// Compiling mapping rules: rule forms, the lexer and a recursive-descent parser (Jinja's
// precedence) that builds the tree in expr_ast.hpp. Evaluation lives in expr_eval.cpp, filters
// and functions in expr_functions.cpp.
//
// Semantics chosen where the original tool (Python + Jinja) left room:
// - int / int (and any decimal division) is an exact decimal, 16 fraction digits then trailing
//   zeros dropped down to the operands' own scale: 10/4 = 2.5, 10.00/4 = 2.50. Any float operand
//   makes the result a float. // and % floor as in Python; int overflow widens to decimal.
// - Arithmetic with a null operand gives null (as SQL); ordering comparisons with null are
//   false; == compares numbers by value across int/decimal/float.
// - `and`/`or` return the deciding operand, as Jinja does (`m.nick or m.name`).
// - Text functions (upper, trim, replace...) keep null as null; interpolation and `~` print
//   null as ''. int()/float()/bool() keep null; string(null) is ''.
// - The legacy `default:<text>` transform replaces null and the empty text (not 0 or false);
//   the default() filter replaces null only, or every falsy value with default(x, true).
// - A bare name inside braces ({{ title }}) is a source column, as a bare rule is.
// - Missing JSON members / indexes give null rather than an error.
// - truncate(n, end) cuts at exactly n characters including `end` (no leeway, no word
//   boundary); bool('yes'/'on'/'1'/'true'/'y'/'t') is true, any other text false.
#include "engine/expression.hpp"
#include "engine/hex.hpp"
#include "engine/utf8.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <exception>
#include <new>
#include <system_error>

#include "engine/expr_ast.hpp"

namespace dbsync {

namespace {

using expr::Func;
using expr::Node;
using expr::Op;

// Rules longer than this are certainly mistakes; refusing them keeps offsets in 32 bits.
constexpr size_t kMaxRuleLength = 1 << 20;

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_ident_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_ident_char(char c) { return is_ident_start(c) || is_digit(c); }
// Column names after '@' may also hold '$' and non-ASCII (UTF-8) bytes.
bool is_column_char(char c) {
  return is_ident_char(c) || c == '$' || static_cast<unsigned char>(c) >= 0x80;
}

std::string_view trim_view(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// A character for a message: printable ASCII quoted, anything else as its byte value (a lone
// byte of a UTF-8 sequence must not end up in a message).
std::string describe_char(char c) {
  auto u = static_cast<unsigned char>(c);
  if (u >= 0x20 && u < 0x7f) return std::string("'") + c + "'";
  static const char* kHex = "0123456789ABCDEF";
  return std::string("byte 0x") + kHex[u >> 4] + kHex[u & 15];
}

// Quotes user text for a message, shortened and with control/non-ASCII bytes escaped.
std::string quote_for_message(std::string_view s) {
  std::string out = "'";
  size_t n = 0;
  for (char c : s) {
    if (++n > 40) {
      out += "...";
      break;
    }
    auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f) {
      out += c;
    } else {
      static const char* kHex = "0123456789abcdef";
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
  return out + "'";
}

enum class Tok : uint8_t {
  kEnd,    // end of the rule text
  kClose,  // }}
  kIdent,
  kInt,
  kDecimal,
  kFloat,
  kString,
  kPlus,
  kMinus,
  kStar,
  kSlash,
  kSlashSlash,
  kPercent,
  kTilde,
  kEq,
  kNe,
  kLt,
  kLe,
  kGt,
  kGe,
  kAssign,
  kLParen,
  kRParen,
  kLBracket,
  kRBracket,
  kComma,
  kDot,
  kPipe,
};

struct Token {
  Tok kind = Tok::kEnd;
  size_t pos = 0;
  size_t end = 0;
  std::string text;  // identifier, decoded string, or number digits
};

const char* tok_symbol(Tok t) {
  switch (t) {
    case Tok::kEnd:
      return "end of text";
    case Tok::kClose:
      return "'}}'";
    case Tok::kIdent:
      return "a name";
    case Tok::kInt:
    case Tok::kDecimal:
    case Tok::kFloat:
      return "a number";
    case Tok::kString:
      return "a string";
    case Tok::kPlus:
      return "'+'";
    case Tok::kMinus:
      return "'-'";
    case Tok::kStar:
      return "'*'";
    case Tok::kSlash:
      return "'/'";
    case Tok::kSlashSlash:
      return "'//'";
    case Tok::kPercent:
      return "'%'";
    case Tok::kTilde:
      return "'~'";
    case Tok::kEq:
      return "'=='";
    case Tok::kNe:
      return "'!='";
    case Tok::kLt:
      return "'<'";
    case Tok::kLe:
      return "'<='";
    case Tok::kGt:
      return "'>'";
    case Tok::kGe:
      return "'>='";
    case Tok::kAssign:
      return "'='";
    case Tok::kLParen:
      return "'('";
    case Tok::kRParen:
      return "')'";
    case Tok::kLBracket:
      return "'['";
    case Tok::kRBracket:
      return "']'";
    case Tok::kComma:
      return "','";
    case Tok::kDot:
      return "'.'";
    case Tok::kPipe:
      return "'|'";
  }
  return "?";
}

std::string describe_token(const Token& t) {
  switch (t.kind) {
    case Tok::kClose:
      return "end of expression '}}'";
    case Tok::kIdent:
      return quote_for_message(t.text);
    case Tok::kInt:
    case Tok::kDecimal:
    case Tok::kFloat:
      return "number " + quote_for_message(t.text);
    case Tok::kString:
      return "string " + quote_for_message(t.text);
    default:
      return tok_symbol(t.kind);
  }
}

bool is_source_alias(std::string_view s) { return s == "master" || s == "source" || s == "m"; }
bool is_target_alias(std::string_view s) { return s == "slave" || s == "target" || s == "s"; }
bool is_keyword(std::string_view s) {
  return s == "and" || s == "or" || s == "not" || s == "if" || s == "else" || s == "in" ||
         s == "is";
}

}  // namespace

// Builds an Expression; a friend of Expression so that it can fill in the private fields.
class ExpressionCompiler {
 public:
  ExpressionCompiler(std::string_view text, const ColumnResolver& resolver)
      : text_(text), resolver_(resolver) {}

  Result<Expression> compile_rule();
  Result<Expression> compile_transform(std::string_view column, std::string_view transform);

 private:
  using NodePtr = std::unique_ptr<Node>;

  // ---- errors ----
  std::nullptr_t fail(size_t pos, const std::string& message) {
    if (err_.is_ok()) {
      err_ = error(ErrorCode::kParseError, "position " + std::to_string(pos) + ": " + message);
    }
    return nullptr;
  }
  std::nullptr_t expected(const std::string& what) {
    return fail(tok_.pos, "expected " + what + " but found " + describe_token(tok_));
  }

  // ---- lexer ----
  bool scan(size_t at, Token& t);
  bool scan_number(size_t at, Token& t);
  bool scan_string(size_t at, Token& t);
  bool advance() { return scan(tok_.end, tok_); }
  bool peek(Token& t) { return scan(tok_.end, t); }

  // ---- parser ----
  NodePtr make(Op op, size_t pos, NodePtr a = nullptr, NodePtr b = nullptr, NodePtr c = nullptr);
  NodePtr finish(NodePtr node);
  NodePtr parse_template();
  NodePtr parse_expression();
  NodePtr parse_or();
  NodePtr parse_and();
  NodePtr parse_not();
  NodePtr parse_compare();
  NodePtr parse_math1();
  NodePtr parse_concat();
  NodePtr parse_math2();
  NodePtr parse_unary(bool with_filter);
  NodePtr parse_postfix(NodePtr node);
  NodePtr parse_filters(NodePtr node);
  NodePtr parse_primary();
  NodePtr parse_row_ref(RowSide side, size_t pos);
  NodePtr parse_call(const expr::FuncInfo& info, size_t name_pos, NodePtr piped);
  NodePtr column_node(RowSide side, std::string_view name, size_t pos);

  bool enter(size_t pos) {
    if (++depth_ > expr::kMaxDepth) {
      fail(pos, "expression nested too deeply (more than " + std::to_string(expr::kMaxDepth) +
                    " levels)");
      return false;
    }
    return true;
  }

  Result<Expression> build(NodePtr root);

  std::string_view text_;
  const ColumnResolver& resolver_;
  Token tok_;
  Status err_;
  int depth_ = 0;
  bool reads_target_ = false;
  std::vector<size_t> source_columns_;
};

namespace {
// Leaves the nesting level entered by ExpressionCompiler::enter on every path.
struct DepthGuard {
  int& depth;
  ~DepthGuard() { --depth; }
};
}  // namespace

// ---------------------------------------------------------------------------------------------
// Lexer

bool ExpressionCompiler::scan(size_t at, Token& t) {
  const size_t n = text_.size();
  while (at < n && is_space(text_[at])) ++at;
  t.pos = at;
  t.text.clear();
  if (at >= n) {
    t.kind = Tok::kEnd;
    t.end = at;
    return true;
  }
  const char c = text_[at];
  const char next = at + 1 < n ? text_[at + 1] : '\0';
  auto one = [&](Tok k) {
    t.kind = k;
    t.end = at + 1;
    return true;
  };
  auto two = [&](Tok k) {
    t.kind = k;
    t.end = at + 2;
    return true;
  };
  if (is_ident_start(c)) {
    size_t e = at + 1;
    while (e < n && is_ident_char(text_[e])) ++e;
    t.kind = Tok::kIdent;
    t.end = e;
    t.text.assign(text_.substr(at, e - at));
    return true;
  }
  if (is_digit(c)) return scan_number(at, t);
  if (c == '\'' || c == '"') return scan_string(at, t);
  switch (c) {
    case '}':
      if (next == '}') return two(Tok::kClose);
      break;
    case '+':
      return one(Tok::kPlus);
    case '-':
      return one(Tok::kMinus);
    case '*':
      return one(Tok::kStar);
    case '/':
      return next == '/' ? two(Tok::kSlashSlash) : one(Tok::kSlash);
    case '%':
      return one(Tok::kPercent);
    case '~':
      return one(Tok::kTilde);
    case '=':
      return next == '=' ? two(Tok::kEq) : one(Tok::kAssign);
    case '!':
      if (next == '=') return two(Tok::kNe);
      break;
    case '<':
      return next == '=' ? two(Tok::kLe) : one(Tok::kLt);
    case '>':
      return next == '=' ? two(Tok::kGe) : one(Tok::kGt);
    case '(':
      return one(Tok::kLParen);
    case ')':
      return one(Tok::kRParen);
    case '[':
      return one(Tok::kLBracket);
    case ']':
      return one(Tok::kRBracket);
    case ',':
      return one(Tok::kComma);
    case '.':
      return one(Tok::kDot);
    case '|':
      return one(Tok::kPipe);
    default:
      break;
  }
  fail(at, "unexpected character " + describe_char(c));
  return false;
}

bool ExpressionCompiler::scan_number(size_t at, Token& t) {
  const size_t n = text_.size();
  size_t e = at;
  while (e < n && is_digit(text_[e])) ++e;
  Tok kind = Tok::kInt;
  if (e + 1 < n && text_[e] == '.' && is_digit(text_[e + 1])) {
    kind = Tok::kDecimal;
    ++e;
    while (e < n && is_digit(text_[e])) ++e;
  }
  if (e < n && (text_[e] == 'e' || text_[e] == 'E')) {
    size_t x = e + 1;
    if (x < n && (text_[x] == '+' || text_[x] == '-')) ++x;
    if (x < n && is_digit(text_[x])) {
      kind = Tok::kFloat;
      e = x;
      while (e < n && is_digit(text_[e])) ++e;
    }
  }
  if (e < n && is_ident_char(text_[e])) {
    fail(e, "unexpected character " + describe_char(text_[e]) + " after a number");
    return false;
  }
  t.kind = kind;
  t.end = e;
  t.text.assign(text_.substr(at, e - at));
  return true;
}

bool ExpressionCompiler::scan_string(size_t at, Token& t) {
  const size_t n = text_.size();
  const char quote = text_[at];
  size_t i = at + 1;
  std::string out;
  while (true) {
    if (i >= n) {
      fail(at, "unterminated string (expected a closing " + std::string(1, quote) +
                   " but found end of text)");
      return false;
    }
    char c = text_[i];
    if (c == quote) break;
    if (c != '\\') {
      out += c;
      ++i;
      continue;
    }
    if (i + 1 >= n) {
      ++i;
      continue;  // reported as unterminated on the next round
    }
    char e = text_[i + 1];
    i += 2;
    switch (e) {
      case 'n':
        out += '\n';
        break;
      case 't':
        out += '\t';
        break;
      case 'r':
        out += '\r';
        break;
      case '0':
        out += '\0';
        break;
      case '\\':
        out += '\\';
        break;
      case '\'':
        out += '\'';
        break;
      case '"':
        out += '"';
        break;
      case 'u': {
        uint32_t cp = 0;
        for (int k = 0; k < 4; ++k) {
          int h = i < n ? hex::digit(text_[i]) : -1;
          if (h < 0) {
            fail(i - 2 - k, "invalid \\u escape (expected 4 hex digits)");
            return false;
          }
          cp = cp * 16 + static_cast<uint32_t>(h);
          ++i;
        }
        if (cp >= 0xD800 && cp <= 0xDFFF) {
          fail(i - 6, "invalid \\u escape (a lone surrogate)");
          return false;
        }
        append_utf8(out, cp);
        break;
      }
      default:  // like Python, an unknown escape is kept as written
        out += '\\';
        out += e;
        break;
    }
  }
  t.kind = Tok::kString;
  t.end = i + 1;
  t.text = std::move(out);
  return true;
}

// ---------------------------------------------------------------------------------------------
// Parser

ExpressionCompiler::NodePtr ExpressionCompiler::make(Op op, size_t pos, NodePtr a, NodePtr b,
                                                     NodePtr c) {
  auto node = std::make_unique<Node>();
  node->op = op;
  node->pos = static_cast<uint32_t>(pos);
  for (NodePtr* k : {&a, &b, &c}) {
    if (*k) node->kids.push_back(std::move(*k));
  }
  return finish(std::move(node));
}

// Computes the height and refuses trees that are too deep to walk safely.
ExpressionCompiler::NodePtr ExpressionCompiler::finish(NodePtr node) {
  int h = 0;
  for (const auto& k : node->kids) h = std::max<int>(h, k->height);
  if (h + 1 > expr::kMaxDepth) {
    return fail(node->pos, "expression nested too deeply (more than " +
                               std::to_string(expr::kMaxDepth) + " levels)");
  }
  node->height = static_cast<uint16_t>(h + 1);
  return node;
}

ExpressionCompiler::NodePtr ExpressionCompiler::column_node(RowSide side, std::string_view name,
                                                            size_t pos) {
  std::optional<size_t> idx = resolver_(side, name);
  if (!idx) {
    if (err_.is_ok()) {
      err_ = error(ErrorCode::kNotFound,
                   std::string(side == RowSide::kSource ? "unknown source column "
                                                        : "unknown target column ") +
                       quote_for_message(name) + " at position " + std::to_string(pos));
    }
    return nullptr;
  }
  if (side == RowSide::kTarget) {
    reads_target_ = true;
  } else if (std::find(source_columns_.begin(), source_columns_.end(), *idx) ==
             source_columns_.end()) {
    source_columns_.push_back(*idx);
  }
  auto node = std::make_unique<Node>();
  node->op = Op::kColumn;
  node->side = side;
  node->column = *idx;
  node->pos = static_cast<uint32_t>(pos);
  return node;
}

// Literal text with {{ expr }} parts. A rule that is one {{ expr }} (whitespace around it
// aside) keeps the expression's type; anything else is text.
ExpressionCompiler::NodePtr ExpressionCompiler::parse_template() {
  auto interp = std::make_unique<Node>();
  interp->op = Op::kInterpolate;
  std::string piece;
  size_t i = 0;
  const size_t n = text_.size();
  while (i < n) {
    size_t open = text_.find("{{", i);
    if (open == std::string_view::npos) {
      piece.append(text_.substr(i));
      break;
    }
    piece.append(text_.substr(i, open - i));
    if (!scan(open + 2, tok_)) return nullptr;
    if (tok_.kind == Tok::kClose || tok_.kind == Tok::kEnd) {
      return expected("an expression inside '{{ }}'");
    }
    NodePtr e = parse_expression();
    if (!e) return nullptr;
    if (tok_.kind != Tok::kClose) {
      return expected(tok_.kind == Tok::kEnd
                          ? "'}}' to close the '{{' at position " + std::to_string(open)
                          : std::string("an operator or '}}'"));
    }
    interp->pieces.push_back(std::move(piece));
    piece.clear();
    interp->kids.push_back(std::move(e));
    i = tok_.end;
  }
  interp->pieces.push_back(std::move(piece));
  if (interp->kids.size() == 1 && trim_view(interp->pieces[0]).empty() &&
      trim_view(interp->pieces[1]).empty()) {
    return std::move(interp->kids[0]);
  }
  return finish(std::move(interp));
}

ExpressionCompiler::NodePtr ExpressionCompiler::parse_expression() {
  if (!enter(tok_.pos)) return nullptr;
  DepthGuard guard{depth_};
  NodePtr value = parse_or();
  if (!value) return nullptr;
  if (tok_.kind == Tok::kIdent && tok_.text == "if") {
    size_t pos = tok_.pos;
    if (!advance()) return nullptr;
    NodePtr cond = parse_or();
    if (!cond) return nullptr;
    NodePtr otherwise;
    if (tok_.kind == Tok::kIdent && tok_.text == "else") {
      if (!advance()) return nullptr;
      otherwise = parse_expression();
      if (!otherwise) return nullptr;
    } else {
      // Jinja allows a missing else: the value is then undefined, i.e. null here.
      otherwise = make(Op::kLiteral, pos);
    }
    return make(Op::kCond, pos, std::move(value), std::move(cond), std::move(otherwise));
  }
  return value;
}

ExpressionCompiler::NodePtr ExpressionCompiler::parse_or() {
  NodePtr left = parse_and();
  while (left && tok_.kind == Tok::kIdent && tok_.text == "or") {
    size_t pos = tok_.pos;
    if (!advance()) return nullptr;
    NodePtr right = parse_and();
    if (!right) return nullptr;
    left = make(Op::kOr, pos, std::move(left), std::move(right));
  }
  return left;
}

ExpressionCompiler::NodePtr ExpressionCompiler::parse_and() {
  NodePtr left = parse_not();
  while (left && tok_.kind == Tok::kIdent && tok_.text == "and") {
    size_t pos = tok_.pos;
    if (!advance()) return nullptr;
    NodePtr right = parse_not();
    if (!right) return nullptr;
    left = make(Op::kAnd, pos, std::move(left), std::move(right));
  }
  return left;
}

ExpressionCompiler::NodePtr ExpressionCompiler::parse_not() {
  if (tok_.kind == Tok::kIdent && tok_.text == "not") {
    size_t pos = tok_.pos;
    if (!enter(pos)) return nullptr;
    DepthGuard guard{depth_};
    if (!advance()) return nullptr;
    NodePtr operand = parse_not();
    if (!operand) return nullptr;
    return make(Op::kNot, pos, std::move(operand));
  }
  return parse_compare();
}

ExpressionCompiler::NodePtr ExpressionCompiler::parse_compare() {
  NodePtr left = parse_math1();
  if (!left) return nullptr;
  auto cmp_op = [](Tok t) -> std::optional<Op> {
    switch (t) {
      case Tok::kEq:
        return Op::kEq;
      case Tok::kNe:
        return Op::kNe;
      case Tok::kLt:
        return Op::kLt;
      case Tok::kLe:
        return Op::kLe;
      case Tok::kGt:
        return Op::kGt;
      case Tok::kGe:
        return Op::kGe;
      default:
        return std::nullopt;
    }
  };
  std::optional<Op> op = cmp_op(tok_.kind);
  if (!op) return left;
  size_t pos = tok_.pos;
  if (!advance()) return nullptr;
  NodePtr right = parse_math1();
  if (!right) return nullptr;
  if (cmp_op(tok_.kind)) {
    return fail(tok_.pos, "chained comparisons are not supported (use 'and')");
  }
  return make(*op, pos, std::move(left), std::move(right));
}

ExpressionCompiler::NodePtr ExpressionCompiler::parse_math1() {
  NodePtr left = parse_concat();
  while (left && (tok_.kind == Tok::kPlus || tok_.kind == Tok::kMinus)) {
    Op op = tok_.kind == Tok::kPlus ? Op::kAdd : Op::kSub;
    size_t pos = tok_.pos;
    if (!advance()) return nullptr;
    NodePtr right = parse_concat();
    if (!right) return nullptr;
    left = make(op, pos, std::move(left), std::move(right));
  }
  return left;
}

ExpressionCompiler::NodePtr ExpressionCompiler::parse_concat() {
  NodePtr left = parse_math2();
  while (left && tok_.kind == Tok::kTilde) {
    size_t pos = tok_.pos;
    if (!advance()) return nullptr;
    NodePtr right = parse_math2();
    if (!right) return nullptr;
    left = make(Op::kConcat, pos, std::move(left), std::move(right));
  }
  return left;
}

ExpressionCompiler::NodePtr ExpressionCompiler::parse_math2() {
  NodePtr left = parse_unary(true);
  while (left) {
    Op op;
    switch (tok_.kind) {
      case Tok::kStar:
        op = Op::kMul;
        break;
      case Tok::kSlash:
        op = Op::kDiv;
        break;
      case Tok::kSlashSlash:
        op = Op::kFloorDiv;
        break;
      case Tok::kPercent:
        op = Op::kMod;
        break;
      default:
        return left;
    }
    size_t pos = tok_.pos;
    if (!advance()) return nullptr;
    NodePtr right = parse_unary(true);
    if (!right) return nullptr;
    left = make(op, pos, std::move(left), std::move(right));
  }
  return left;
}

// As in Jinja, filters bind tighter than binary operators, and `-x | abs` is abs(-x).
ExpressionCompiler::NodePtr ExpressionCompiler::parse_unary(bool with_filter) {
  if (!enter(tok_.pos)) return nullptr;
  DepthGuard guard{depth_};
  NodePtr node;
  if (tok_.kind == Tok::kMinus || tok_.kind == Tok::kPlus) {
    Op op = tok_.kind == Tok::kMinus ? Op::kNeg : Op::kPos;
    size_t pos = tok_.pos;
    if (!advance()) return nullptr;
    NodePtr operand = parse_unary(false);
    if (!operand) return nullptr;
    node = make(op, pos, std::move(operand));
  } else {
    node = parse_primary();
    if (node) node = parse_postfix(std::move(node));
  }
  if (node && with_filter) node = parse_filters(std::move(node));
  return node;
}

ExpressionCompiler::NodePtr ExpressionCompiler::parse_postfix(NodePtr node) {
  while (node) {
    if (tok_.kind == Tok::kDot) {
      if (!advance()) return nullptr;
      if (tok_.kind != Tok::kIdent && tok_.kind != Tok::kInt) {
        return expected("a member name after '.'");
      }
      auto member = make(Op::kMember, tok_.pos, std::move(node));
      if (!member) return nullptr;
      if (tok_.kind == Tok::kInt) {
        // `m.tags.0` as in Jinja: a numeric member is an index.
        member->op = Op::kIndex;
        auto idx = make(Op::kLiteral, tok_.pos);
        int64_t i = 0;
        auto r = std::from_chars(tok_.text.data(), tok_.text.data() + tok_.text.size(), i);
        if (r.ec != std::errc()) return fail(tok_.pos, "index out of range");
        idx->literal = Value::integer(i);
        member->kids.push_back(std::move(idx));
        member = finish(std::move(member));
        if (!member) return nullptr;
      } else {
        member->literal = Value::text(tok_.text);
      }
      node = std::move(member);
      if (!advance()) return nullptr;
    } else if (tok_.kind == Tok::kLBracket) {
      size_t pos = tok_.pos;
      if (!advance()) return nullptr;
      NodePtr index = parse_expression();
      if (!index) return nullptr;
      if (tok_.kind != Tok::kRBracket) return expected("']'");
      if (!advance()) return nullptr;
      node = make(Op::kIndex, pos, std::move(node), std::move(index));
    } else if (tok_.kind == Tok::kLParen) {
      return fail(tok_.pos, "only named functions can be called");
    } else {
      break;
    }
  }
  return node;
}

ExpressionCompiler::NodePtr ExpressionCompiler::parse_filters(NodePtr node) {
  while (node && tok_.kind == Tok::kPipe) {
    if (!advance()) return nullptr;
    if (tok_.kind != Tok::kIdent) return expected("a filter name after '|'");
    const expr::FuncInfo* info = expr::find_function(tok_.text);
    if (!info) return fail(tok_.pos, "unknown filter " + quote_for_message(tok_.text));
    size_t name_pos = tok_.pos;
    if (!advance()) return nullptr;
    node = parse_call(*info, name_pos, std::move(node));
  }
  return node;
}

// Arguments of a call; `piped` is the filtered value (the first argument) in the filter form.
ExpressionCompiler::NodePtr ExpressionCompiler::parse_call(const expr::FuncInfo& info,
                                                           size_t name_pos, NodePtr piped) {
  const bool filter_form = piped != nullptr;
  std::vector<NodePtr> args;
  if (piped) args.push_back(std::move(piped));
  std::vector<std::pair<size_t, NodePtr>> keyword_args;
  if (tok_.kind == Tok::kLParen) {
    if (!enter(tok_.pos)) return nullptr;
    DepthGuard guard{depth_};
    if (!advance()) return nullptr;
    while (tok_.kind != Tok::kRParen) {
      Token after;
      if (tok_.kind == Tok::kIdent && peek(after) && after.kind == Tok::kAssign) {
        auto it = std::find_if(info.params.begin(), info.params.end(),
                               [&](const char* p) { return tok_.text == p; });
        if (it == info.params.end() || it == info.params.begin()) {
          return fail(tok_.pos, std::string("'") + info.name + "' has no argument named " +
                                    quote_for_message(tok_.text));
        }
        size_t slot = static_cast<size_t>(it - info.params.begin());
        size_t kw_pos = tok_.pos;
        tok_ = after;
        if (!advance()) return nullptr;
        NodePtr value = parse_expression();
        if (!value) return nullptr;
        for (const auto& kw : keyword_args) {
          if (kw.first == slot) {
            return fail(kw_pos, std::string("argument '") + info.params[slot] + "' given twice");
          }
        }
        keyword_args.emplace_back(slot, std::move(value));
      } else {
        if (!keyword_args.empty()) {
          return fail(tok_.pos, "a positional argument cannot follow a keyword argument");
        }
        if (tok_.kind == Tok::kEnd || tok_.kind == Tok::kClose) return expected("')'");
        NodePtr value = parse_expression();
        if (!value) return nullptr;
        args.push_back(std::move(value));
      }
      if (tok_.kind == Tok::kComma) {
        if (!advance()) return nullptr;
      } else if (tok_.kind != Tok::kRParen) {
        return expected("',' or ')'");
      }
    }
    if (!advance()) return nullptr;
  }
  for (auto& kw : keyword_args) {
    if (kw.first < args.size()) {
      return fail(name_pos, std::string("argument '") + info.params[kw.first] + "' of '" +
                                info.name + "' given twice");
    }
    while (args.size() < kw.first) args.push_back(nullptr);  // filled below
    args.push_back(nullptr);
    args[kw.first] = std::move(kw.second);
  }
  const int count = static_cast<int>(args.size());
  auto signature = [&]() {
    std::string s = std::string(info.name) + "(";
    size_t shown = info.max_args < 0 ? std::max<size_t>(info.params.size(), 1) : info.params.size();
    for (size_t i = 0; i < shown; ++i) {
      if (static_cast<int>(i) == info.min_args && i > 0) s += "[";
      if (i > 0) s += ", ";
      s += info.params[i];
    }
    if (info.max_args > info.min_args && info.min_args > 0) s += "]";
    if (info.max_args < 0) s += ", ...";
    return s + ")";
  };
  if (count < info.min_args || (info.max_args >= 0 && count > info.max_args)) {
    int given = filter_form ? count - 1 : count;
    return fail(name_pos, "wrong number of arguments for '" + std::string(info.name) +
                              "': expected " + signature() + " but got " + std::to_string(given) +
                              (filter_form ? " after the filtered value" : ""));
  }
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i]) continue;
    if (static_cast<int>(i) < info.min_args) {
      return fail(name_pos,
                  std::string("missing argument '") + info.params[i] + "' of '" + info.name + "'");
    }
    args[i] = make(Op::kLiteral, name_pos);  // an omitted optional argument: null = default
  }
  auto call = std::make_unique<Node>();
  call->op = Op::kCall;
  call->func = info.func;
  call->pos = static_cast<uint32_t>(name_pos);
  call->kids = std::move(args);
  return finish(std::move(call));
}

ExpressionCompiler::NodePtr ExpressionCompiler::parse_row_ref(RowSide side, size_t pos) {
  // The alias has been consumed: `.name` or `['name']` must follow.
  if (tok_.kind == Tok::kDot) {
    if (!advance()) return nullptr;
    if (tok_.kind != Tok::kIdent) return expected("a column name after '.'");
    NodePtr node = column_node(side, tok_.text, tok_.pos);
    if (node && !advance()) return nullptr;
    return node;
  }
  if (tok_.kind == Tok::kLBracket) {
    if (!advance()) return nullptr;
    if (tok_.kind != Tok::kString) return expected("a quoted column name");
    NodePtr node = column_node(side, tok_.text, tok_.pos);
    if (!node || !advance()) return nullptr;
    if (tok_.kind != Tok::kRBracket) return expected("']'");
    if (!advance()) return nullptr;
    return node;
  }
  (void)pos;
  return expected(std::string("'.' or '[' after '") +
                  (side == RowSide::kSource ? "source row" : "target row") + "' name");
}

ExpressionCompiler::NodePtr ExpressionCompiler::parse_primary() {
  const size_t pos = tok_.pos;
  switch (tok_.kind) {
    case Tok::kIdent: {
      std::string name = tok_.text;
      if (name == "true" || name == "True" || name == "false" || name == "False") {
        auto node = make(Op::kLiteral, pos);
        node->literal = Value::boolean(name[0] == 't' || name[0] == 'T');
        if (!advance()) return nullptr;
        return node;
      }
      if (name == "none" || name == "None" || name == "null") {
        auto node = make(Op::kLiteral, pos);
        if (!advance()) return nullptr;
        return node;
      }
      if (is_keyword(name)) return expected("an expression");
      if (!advance()) return nullptr;
      if (is_source_alias(name)) return parse_row_ref(RowSide::kSource, pos);
      if (is_target_alias(name)) return parse_row_ref(RowSide::kTarget, pos);
      if (tok_.kind == Tok::kLParen) {
        const expr::FuncInfo* info = expr::find_function(name);
        if (!info) return fail(pos, "unknown function " + quote_for_message(name));
        return parse_call(*info, pos, nullptr);
      }
      // A bare name inside braces is a source column, as it is for a whole rule.
      return column_node(RowSide::kSource, name, pos);
    }
    case Tok::kInt: {
      auto node = make(Op::kLiteral, pos);
      int64_t v = 0;
      auto r = std::from_chars(tok_.text.data(), tok_.text.data() + tok_.text.size(), v);
      if (r.ec == std::errc()) {
        node->literal = Value::integer(v);
      } else {
        Result<Value> d = Value::decimal(tok_.text);  // beyond int64: exact decimal
        if (!d) return fail(pos, "invalid number " + quote_for_message(tok_.text));
        node->literal = std::move(d).value();
      }
      if (!advance()) return nullptr;
      return node;
    }
    case Tok::kDecimal: {
      auto node = make(Op::kLiteral, pos);
      Result<Value> d = Value::decimal(tok_.text);
      if (!d) return fail(pos, "invalid number " + quote_for_message(tok_.text));
      node->literal = std::move(d).value();
      if (!advance()) return nullptr;
      return node;
    }
    case Tok::kFloat: {
      auto node = make(Op::kLiteral, pos);
      double v = 0;
      auto r = std::from_chars(tok_.text.data(), tok_.text.data() + tok_.text.size(), v);
      if (r.ec != std::errc())
        return fail(pos, "number out of range " + quote_for_message(tok_.text));
      node->literal = Value::floating(v);
      if (!advance()) return nullptr;
      return node;
    }
    case Tok::kString: {
      auto node = make(Op::kLiteral, pos);
      node->literal = Value::text(tok_.text);
      if (!advance()) return nullptr;
      return node;
    }
    case Tok::kLParen: {
      if (!advance()) return nullptr;
      NodePtr inner = parse_expression();
      if (!inner) return nullptr;
      if (tok_.kind != Tok::kRParen) {
        return expected("')' to close the '(' at position " + std::to_string(pos));
      }
      if (!advance()) return nullptr;
      return inner;
    }
    default:
      return expected("an expression");
  }
}

// ---------------------------------------------------------------------------------------------
// Rule forms

Result<Expression> ExpressionCompiler::build(NodePtr root) {
  Expression e;
  e.text_.assign(text_);
  if (root->op == Op::kColumn && root->side == RowSide::kSource) e.plain_source_ = root->column;
  e.reads_target_ = reads_target_;
  std::sort(source_columns_.begin(), source_columns_.end());
  e.source_columns_ = std::move(source_columns_);
  e.root_ = std::shared_ptr<const Node>(std::move(root));
  return e;
}

Result<Expression> ExpressionCompiler::compile_rule() {
  if (text_.size() > kMaxRuleLength) {
    return error(ErrorCode::kParseError, "position " + std::to_string(kMaxRuleLength) +
                                             ": rule longer than " +
                                             std::to_string(kMaxRuleLength) + " bytes");
  }
  NodePtr root;
  const std::string_view trimmed = trim_view(text_);
  const size_t offset = trimmed.empty() ? 0 : static_cast<size_t>(trimmed.data() - text_.data());
  if (trimmed.empty()) {
    return error(ErrorCode::kParseError,
                 "position " + std::to_string(text_.size()) +
                     ": expected a mapping rule (@column, a column name or {{ expression }}) "
                     "but found " +
                     (text_.empty() ? "empty text" : "only whitespace"));
  }
  if (text_.find("{{") != std::string_view::npos) {
    root = parse_template();
  } else if (trimmed[0] == '@') {
    std::string_view name = trimmed.substr(1);
    if (name.empty()) {
      fail(offset + 1, "expected a column name after '@' but found end of text");
    } else {
      auto bad = std::find_if_not(name.begin(), name.end(), is_column_char);
      if (bad != name.end()) {
        size_t at = offset + 1 + static_cast<size_t>(bad - name.begin());
        fail(at, "expected a column name after '@' but found " + describe_char(*bad) +
                     " (use {{ }} for expressions, m['name'] for odd column names)");
      } else {
        root = column_node(RowSide::kSource, name, offset + 1);
      }
    }
  } else {
    // A bare rule is a source column whatever its name holds (`a b`): never silently a
    // constant. A literal text is written {{ 'text' }}; the error says so.
    if (resolver_(RowSide::kSource, trimmed)) {
      root = column_node(RowSide::kSource, trimmed, offset);
    } else if (err_.is_ok()) {
      const bool plain = trimmed.size() <= 40 &&
                         std::all_of(trimmed.begin(), trimmed.end(),
                                     [](char c) { return c >= 0x20 && c < 0x7f && c != '"'; });
      const char quote = trimmed.find('\'') == std::string_view::npos ? '\'' : '"';
      const std::string literal =
          plain ? quote + std::string(trimmed) + quote : std::string("'text'");
      err_ = error(ErrorCode::kNotFound, "unknown source column " + quote_for_message(trimmed) +
                                             " at position " + std::to_string(offset) +
                                             " (a literal text is written {{ " + literal + " }})");
    }
  }
  if (!root) {
    if (err_.is_ok()) err_ = error(ErrorCode::kInternal, "expression compiler failed silently");
    return err_;
  }
  return build(std::move(root));
}

Result<Expression> ExpressionCompiler::compile_transform(std::string_view column,
                                                         std::string_view transform) {
  NodePtr col = column_node(RowSide::kSource, column, 0);
  if (!col) return err_;
  std::string_view t = trim_view(transform);
  std::string name(t.substr(0, t.find(':')));
  std::transform(name.begin(), name.end(), name.begin(),
                 [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; });
  NodePtr root;
  auto call = [&](Func f) {
    auto node = std::make_unique<Node>();
    node->op = Op::kCall;
    node->func = f;
    node->kids.push_back(std::move(col));
    return node;
  };
  if (t.empty()) {
    root = std::move(col);
  } else if (t.find(':') == std::string_view::npos &&
             (name == "upper" || name == "lower" || name == "trim")) {
    root = call(name == "upper" ? Func::kUpper : name == "lower" ? Func::kLower : Func::kTrim);
  } else if (name == "default" && t.find(':') != std::string_view::npos) {
    root = call(Func::kDefaultIfEmpty);
    auto lit = std::make_unique<Node>();
    lit->literal = Value::text(std::string(t.substr(t.find(':') + 1)));
    root->kids.push_back(std::move(lit));
  } else {
    return error(ErrorCode::kInvalidArgument,
                 "unknown transform " + quote_for_message(transform) +
                     " (expected upper, lower, trim or default:<text>)");
  }
  root = finish(std::move(root));
  if (!root) return err_;
  std::string column_text(column);
  Result<Expression> e = build(std::move(root));
  if (e) {
    std::string shown = "@" + column_text;
    if (!t.empty()) shown += " | " + std::string(t);
    e->text_ = std::move(shown);
  }
  return e;
}

// ---------------------------------------------------------------------------------------------
// Public API: nothing may escape as an exception (the resolver is user code; bad_alloc).

Result<Expression> Expression::compile(std::string_view text, const ColumnResolver& resolver) {
  try {
    ExpressionCompiler c(text, resolver);
    return c.compile_rule();
  } catch (const std::exception& ex) {
    return error(ErrorCode::kInternal, std::string("compiling expression: ") + ex.what());
  } catch (...) {
    return error(ErrorCode::kInternal, "compiling expression: unknown exception");
  }
}

Result<Expression> Expression::compile_transform(std::string_view source_column,
                                                 std::string_view transform,
                                                 const ColumnResolver& resolver) {
  try {
    ExpressionCompiler c(source_column, resolver);
    return c.compile_transform(source_column, transform);
  } catch (const std::exception& ex) {
    return error(ErrorCode::kInternal, std::string("compiling transform: ") + ex.what());
  } catch (...) {
    return error(ErrorCode::kInternal, "compiling transform: unknown exception");
  }
}

Result<Value> Expression::evaluate(const EvalContext& ctx) const {
  if (plain_source_) {
    // The common case: a plain column copy, no tree walk.
    if (ctx.source != nullptr && *plain_source_ < ctx.source->size()) {
      return (*ctx.source)[*plain_source_];
    }
  }
  if (!root_) return error(ErrorCode::kInternal, "evaluating an expression that was not compiled");
  try {
    expr::reset_work_budget();
    return expr::eval_node(*root_, ctx);
  } catch (const std::exception& ex) {
    return error(ErrorCode::kEvaluation, std::string("evaluating expression: ") + ex.what());
  } catch (...) {
    return error(ErrorCode::kEvaluation, "evaluating expression: unknown exception");
  }
}

std::optional<size_t> Expression::plain_source_column() const { return plain_source_; }
bool Expression::reads_target() const { return reads_target_; }
const std::vector<size_t>& Expression::source_columns() const { return source_columns_; }

}  // namespace dbsync
