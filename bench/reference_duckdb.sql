-- Reference (a): RFM scores + lifecycle stage for every customer, hand-written DuckDB SQL.
--
-- Definitions: docs/segment-semantics.md (Time, Lifecycle, RFM), default settings:
-- lifecycle thresholds 60/120/180 days, returned gap 120 days, k = 5 bins, preset `ranges`.
-- Parameters: $customers, $orders (Parquet paths), $as_of (UTC instant, naive TIMESTAMP),
-- $today (D, the local date of as_of in the workspace timezone).
-- One row per universe customer; RFM columns are NULL for customers without orders.
WITH universe AS (
    SELECT customer_id
    FROM read_parquet($customers)
    WHERE signup_at IS NULL OR signup_at <= $as_of
),
per_customer AS (
    SELECT
        customer_id,
        max(local_date) AS last_date,
        count(*) AS frequency,
        CAST(sum(amount) AS DECIMAL(38, 2)) AS monetary,
        -- q: latest order with days_ago > 60; p: earliest order with days_ago <= 60
        max(local_date) FILTER (WHERE local_date <= $today - 61) AS q,
        min(local_date) FILTER (WHERE local_date >= $today - 60) AS p
    FROM read_parquet($orders)
    WHERE (status IS NULL OR status <> 'cancelled') AND ordered_at <= $as_of
    GROUP BY customer_id
),
base AS (
    SELECT u.customer_id, o.last_date, o.frequency, o.monetary, o.q, o.p,
           $today - o.last_date AS recency_days
    FROM universe AS u
    LEFT JOIN per_customer AS o USING (customer_id)
),
ranked AS (
    -- position i = 0..n-1 among scored customers: value ascending, then customer_id
    SELECT *,
        row_number() OVER (PARTITION BY last_date IS NULL
                           ORDER BY recency_days DESC, customer_id) - 1 AS ri,
        row_number() OVER (PARTITION BY last_date IS NULL
                           ORDER BY frequency, customer_id) - 1 AS fi,
        row_number() OVER (PARTITION BY last_date IS NULL
                           ORDER BY monetary, customer_id) - 1 AS mi,
        count(last_date) OVER () AS n
    FROM base
),
scored AS (
    -- score = max(1, ceil(5·i/(n−1))); n = 1 scores 1
    SELECT *,
        CASE WHEN last_date IS NULL THEN NULL WHEN n <= 1 THEN 1
             ELSE greatest(1, (5 * ri + n - 2) // (n - 1)) END AS r_score,
        CASE WHEN last_date IS NULL THEN NULL WHEN n <= 1 THEN 1
             ELSE greatest(1, (5 * fi + n - 2) // (n - 1)) END AS f_score,
        CASE WHEN last_date IS NULL THEN NULL WHEN n <= 1 THEN 1
             ELSE greatest(1, (5 * mi + n - 2) // (n - 1)) END AS m_score
    FROM ranked
)
SELECT
    customer_id,
    recency_days,
    frequency,
    monetary,
    r_score,
    f_score,
    m_score,
    CASE
        WHEN r_score IS NULL THEN NULL
        WHEN r_score = 5 AND f_score = 5 AND m_score = 5 THEN 'Champions'
        WHEN r_score BETWEEN 3 AND 5 AND f_score BETWEEN 3 AND 5 AND m_score BETWEEN 2 AND 5
            THEN 'Potential Loyalist'
        WHEN r_score BETWEEN 2 AND 4 AND f_score BETWEEN 2 AND 4 AND m_score BETWEEN 2 AND 4
            THEN 'Loyal Customers'
        WHEN r_score BETWEEN 3 AND 4 AND f_score BETWEEN 1 AND 3 AND m_score BETWEEN 3 AND 5
            THEN 'Promising'
        WHEN r_score BETWEEN 4 AND 5 AND f_score BETWEEN 1 AND 3 AND m_score BETWEEN 1 AND 5
            THEN 'New Customers'
        WHEN r_score BETWEEN 1 AND 2 AND f_score BETWEEN 3 AND 4 AND m_score BETWEEN 4 AND 5
            THEN 'Can''t Lose Them'
        WHEN r_score BETWEEN 1 AND 2 AND f_score BETWEEN 2 AND 5 AND m_score BETWEEN 4 AND 5
            THEN 'At Risk'
        WHEN r_score BETWEEN 1 AND 3 AND f_score BETWEEN 3 AND 5 AND m_score BETWEEN 3 AND 5
            THEN 'Need Attention'
        WHEN r_score BETWEEN 2 AND 3 AND f_score BETWEEN 1 AND 3 AND m_score BETWEEN 1 AND 4
            THEN 'About To Sleep'
        WHEN r_score = 1 AND f_score BETWEEN 1 AND 5 AND m_score BETWEEN 1 AND 5 THEN 'Lost'
        ELSE 'Others'
    END AS rfm_group,
    CASE
        WHEN last_date IS NULL THEN 'zero'
        WHEN last_date >= $today - 60 AND q IS NOT NULL AND p - q > 120 THEN 'returned'
        WHEN last_date >= $today - 60 THEN 'active'
        WHEN last_date >= $today - 120 THEN 'pre_churn'
        WHEN last_date >= $today - 180 THEN 'churn'
        ELSE 'gone'
    END AS stage,
    recency_days AS days_since_last_purchase
FROM scored
