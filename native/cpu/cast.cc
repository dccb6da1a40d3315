// cast.cc: the CPU launcher of cast (include/steprl/cast.h): the element-wise conversions of
// convert.h (the checkpoint loader's, split over the thread pool; the same bits as the header's rules).
#include "../../include/steprl/cast.h"

#include "convert.h"

namespace steprl::cpu {

void cast_cpu(const CastArgs& args) {
  if (args.n <= 0) return;
  if (args.kind == CastKind::float32_to_bfloat16)
    narrow_to_bfloat16_cpu(static_cast<uint16_t*>(args.out), static_cast<const float*>(args.inp), args.n);
  else
    widen_to_float32_cpu(static_cast<float*>(args.out), static_cast<const uint16_t*>(args.inp), args.n, HalfFormat::bfloat16);
}

}  // namespace steprl::cpu
