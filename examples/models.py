"""Small NumPy model losses, written as a user would write them, to differentiate as written.

Run ``python examples/models.py`` to print their gradients with ``ad_compiler.grad``.
"""
import numpy as np


def logistic_loss(w, b, X, y):
    """Logistic regression: mean binary cross-entropy of sigmoid(X @ w + b), y in {0, 1}.

    Uses -log sigmoid(z) = max(z, 0) - z + log1p(exp(-|z|)), stable for large |z|.
    """
    z = X @ w + b
    losses = np.maximum(z, 0.0) - y * z + np.log1p(np.exp(-np.abs(z)))
    return np.mean(losses)


def mlp_loss(W1, b1, W2, b2, X, Y):
    """Two-layer tanh network, half the mean over rows of the squared error."""
    H = np.tanh(X @ W1 + b1)
    out = H @ W2 + b2
    return 0.5 * np.mean(np.sum((out - Y) ** 2, axis=1))


def rosenbrock(x):
    """The n-dimensional Rosenbrock function, vectorised with slices."""
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def softmax_cross_entropy(W, X, labels_onehot):
    """Linear softmax classifier: mean cross-entropy, log-softmax stabilised by the row max."""
    logits = X @ W
    shifted = logits - np.max(logits, axis=1, keepdims=True)
    logp = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    return np.mean(-np.sum(labels_onehot * logp, axis=1))


def rnn_loss(Wx, Wh, b, xs, target):
    """Elman RNN run over the rows of xs; half the squared error of the last hidden state."""
    h = np.zeros(Wh.shape[0])
    for t in range(xs.shape[0]):
        x_t = xs[t]
        h = np.tanh(x_t @ Wx + h @ Wh + b)
    return 0.5 * np.sum((h - target) ** 2)


def least_squares(A, b):
    """Residual sum of squares of the least-squares solution, from the normal equations."""
    x = np.linalg.solve(A.T @ A, A.T @ b)
    return np.sum((A @ x - b) ** 2)


def ridge_loss(A, b, lam):
    """Ridge regression: the penalised objective at the solution of the regularised solve."""
    x = np.linalg.solve(A.T @ A + lam * np.eye(A.shape[1]), A.T @ b)
    return np.sum((A @ x - b) ** 2) + lam * np.sum(x ** 2)


def _demo():
    import ad_compiler as adc

    np.set_printoptions(precision=4, suppress=True)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(5, 3))

    y = (rng.random(5) < 0.5).astype(float)
    dw, db = adc.grad(logistic_loss, wrt=("w", "b"))(rng.normal(size=3), 0.1, X, y)
    print("logistic_loss: dL/dw =", dw, " dL/db =", db)

    W1, b1 = rng.normal(size=(3, 4)), rng.normal(size=4)
    W2, b2 = rng.normal(size=(4, 2)), rng.normal(size=2)
    grads = adc.grad(mlp_loss, wrt=(0, 1, 2, 3))(W1, b1, W2, b2, X, rng.normal(size=(5, 2)))
    for name, g in zip(("W1", "b1", "W2", "b2"), grads):
        print(f"mlp_loss: dL/d{name} =\n{g}")

    x = np.array([-1.2, 1.0, 0.5, 0.8])
    print("rosenbrock: grad =", adc.grad(rosenbrock)(x))

    onehot = np.eye(3)[rng.integers(0, 3, size=5)]
    print("softmax_cross_entropy: dL/dW =\n", adc.grad(softmax_cross_entropy)(
        rng.normal(size=(3, 3)), X, onehot))

    Wx, Wh, bh = rng.normal(size=(3, 4)), 0.5 * rng.normal(size=(4, 4)), rng.normal(size=4)
    xs, target = rng.normal(size=(6, 3)), rng.normal(size=4)
    for name, g in zip(("Wx", "Wh", "b"), adc.grad(rnn_loss, wrt=(0, 1, 2))(Wx, Wh, bh, xs, target)):
        print(f"rnn_loss: dL/d{name} =\n{g}")

    A, b = rng.normal(size=(5, 3)), rng.normal(size=5)
    dA, db = adc.grad(least_squares, wrt=("A", "b"))(A, b)
    print("least_squares: dL/dA =\n", dA, "\n dL/db =", db)
    print("ridge_loss: dL/dlam =", adc.grad(ridge_loss, wrt="lam")(A, b, 0.3))


if __name__ == "__main__":
    _demo()
