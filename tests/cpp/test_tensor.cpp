#include <gtest/gtest.h>

#include <cstdint>

#include "pocketcnn/error.h"
#include "pocketcnn/tensor.h"

using pocketcnn::Shape;
using pocketcnn::Tensor;

TEST(Tensor, EmptyIsAlignedAndHasShape) {
  Tensor t = Tensor::empty({2, 3, 5, 7});
  EXPECT_EQ(t.numel(), 210);
  EXPECT_EQ(t.ndim(), 4);
  EXPECT_EQ(t.dim(-1), 7);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data()) % 64, 0u);
}

TEST(Tensor, ZerosFullFromVector) {
  Tensor z = Tensor::zeros({3, 4});
  for (int64_t i = 0; i < z.numel(); ++i) EXPECT_EQ(z.data()[i], 0.0f);
  Tensor f = Tensor::full({2}, 2.5f);
  EXPECT_EQ(f.data()[1], 2.5f);
  Tensor v = Tensor::from_vector({2, 2}, {1, 2, 3, 4});
  EXPECT_EQ(v.data()[3], 4.0f);
  EXPECT_THROW(Tensor::from_vector({2, 2}, {1, 2, 3}), pocketcnn::ValueError);
}

TEST(Tensor, ZeroDimAndEmptyShapes) {
  Tensor s = Tensor::full({}, 7.0f);
  EXPECT_EQ(s.numel(), 1);
  EXPECT_EQ(s.item(), 7.0f);
  Tensor e = Tensor::zeros({0, 3});
  EXPECT_EQ(e.numel(), 0);
  EXPECT_THROW(e.item(), pocketcnn::ValueError);
  EXPECT_THROW(Tensor::empty({-1, 2}), pocketcnn::ValueError);
}

TEST(Tensor, ViewSharesDataCloneCopies) {
  Tensor t = Tensor::from_vector({2, 3}, {0, 1, 2, 3, 4, 5});
  Tensor v = t.view({3, 2});
  EXPECT_EQ(v.data(), t.data());
  EXPECT_EQ(v.shape(), (Shape{3, 2}));
  EXPECT_THROW(t.view({4, 2}), pocketcnn::ValueError);
  Tensor c = t.clone();
  EXPECT_NE(c.data(), t.data());
  EXPECT_EQ(c.data()[5], 5.0f);
}

TEST(Tensor, WrapKeepsOwnerAlive) {
  auto owner = std::make_shared<std::vector<float>>(6, 1.5f);
  std::weak_ptr<std::vector<float>> watch = owner;
  Tensor t = Tensor::wrap(owner->data(), {2, 3}, owner);
  owner.reset();
  EXPECT_FALSE(watch.expired());
  EXPECT_EQ(t.data()[4], 1.5f);
  t = Tensor();
  EXPECT_TRUE(watch.expired());
}

TEST(Tensor, UndefinedTensorThrowsInsteadOfCrashing) {
  Tensor u;
  EXPECT_FALSE(u.defined());
  EXPECT_THROW(u.shape(), pocketcnn::TypeError);
  EXPECT_THROW(u.data(), pocketcnn::TypeError);
}

TEST(Tensor, ShapeStr) {
  EXPECT_EQ(pocketcnn::shape_str({2, 3}), "(2, 3)");
  EXPECT_EQ(pocketcnn::shape_str({5}), "(5,)");
  EXPECT_EQ(pocketcnn::shape_str({}), "()");
}
