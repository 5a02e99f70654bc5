"""The MBG/NBD model: Batislam, Denizel & Filiztekin (2007), "Empirical validation and comparison
of models for customer base analysis", International Journal of Research in Marketing 24(3).

The BG/NBD with one change: a customer may also drop out right after the first
purchase (time zero), so customers without repeat purchases are not assumed
alive. Everything else, including the API, is the :class:`~cvm.models.bgnbd.BGNBD`'s.
"""

from __future__ import annotations

from cvm.models.bgnbd import BGNBD


class MBGNBD(BGNBD):
    r"""Modified BG/NBD: dropout with probability ``p`` after every purchase, the first included.

    Log-likelihood of one customer (Batislam et al. 2007, eq. 4):

    .. math::
        \ln L = \ln\frac{\Gamma(r+x)\,\alpha^r}{\Gamma(r)}
              + \ln\frac{B(a, b+x+1)}{B(a, b)}
              + \ln\Big[(\alpha+T)^{-(r+x)} + \frac{a}{b+x}\,(\alpha+t_x)^{-(r+x)}\Big]

    so :math:`P(\text{alive}) = 1 / (1 + \frac{a}{b+x} (\frac{\alpha+T}{\alpha+t_x})^{r+x})`
    for every customer, and given alive ``p ~ Beta(a, b + x + 1)``:

    .. math::
        E[Y(t)\mid x,t_x,T] = P(\text{alive})\,\frac{a+b+x}{a-1}\Big[1-\Big(\frac{\alpha+T}{\alpha+T+t}\Big)^{r+x}
        {}_2F_1\big(r+x, b+x+1; a+b+x; \tfrac{t}{\alpha+T+t}\big)\Big],

    :math:`E[X(t)] = \frac{b}{a-1}\big[1-(\frac{\alpha}{\alpha+t})^r {}_2F_1(r, b+1; a+b; \frac{t}{\alpha+t})\big]`,
    and :math:`P(X(t)=n) = \frac{B(a,b+n+1)}{B(a,b)} NB(n) + \frac{B(a+1,b+n)}{B(a,b)} P(NB \ge n)`.
    DERT integrates the conditional purchase rate numerically, as for the BG/NBD.

    Examples
    --------
    >>> m = MBGNBD.from_params(r=0.5, alpha=5.0, a=0.8, b=2.5)
    >>> bool(m.probability_alive(0, 0.0, 10.0)[0] < 1)
    True
    """

    _extra_drop = 1

    @staticmethod
    def _new_customer_expectation(t, r, alpha, a, b):
        r"""E[X(t)] for a new customer: ``b / (a + b)`` (alive after the first purchase) times the alive
        expectation, whose dropout probability then follows Beta(a, b + 1)."""
        return b / (a + b) * BGNBD._new_customer_expectation(t, r, alpha, a, b + 1.0)
