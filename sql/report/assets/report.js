// Draws the report's charts with Apache ECharts (SVG) from the JSON in #report-data.
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('report-data').textContent);
  var palette = ['#2f5bea', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948',
    '#b07aa1', '#ff9da7', '#9c755f', '#7f8796', '#4e79a7', '#86bcb6'];
  var whole = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

  function format(unit, v) {
    if (v === null || v === undefined || isNaN(v)) { return '-'; }
    switch (unit) {
      case 'amount': case 'int': return whole.format(v);
      case 'dec1': return v.toFixed(1);
      case 'dec2': return v.toFixed(2);
      case 'percent': return (100 * v).toFixed(0) + '%';
      case 'points': return (v >= 0 ? '+' : '') + (100 * v).toFixed(0) + ' pt';
      case 'seconds': return v.toFixed(2) + ' s';
    }
    return String(v);
  }

  // channelColor gives each channel one color across the sankey's steps.
  var channelColors = {};
  function channelColor(name) {
    if (!(name in channelColors)) {
      channelColors[name] = palette[Object.keys(channelColors).length % palette.length];
    }
    return channelColors[name];
  }

  function sankey(c) {
    return {
      animation: false,
      tooltip: { trigger: 'item', valueFormatter: function (v) { return format(c.unit, v); } },
      series: [{
        type: 'sankey', left: 8, right: 150, top: 10, bottom: 10, nodeGap: 10, nodeAlign: 'left',
        emphasis: { focus: 'adjacency' },
        label: { fontSize: 11, color: '#1d2433' },
        lineStyle: { color: 'gradient', curveness: 0.5, opacity: 0.35 },
        data: c.nodes.map(function (n) {
          var channel = n.indexOf(' · ') >= 0 ? n.split(' · ')[1] : n;
          return { name: n, itemStyle: { color: n === 'won deal' ? '#1a7f52' : channelColor(channel) } };
        }),
        links: c.links.map(function (l) { return { source: l.source, target: l.target, value: l.value }; })
      }]
    };
  }

  function bars(c) {
    var horizontal = c.kind === 'hbar';
    var several = c.series.length > 1;
    var category = {
      type: 'category', data: c.categories, inverse: horizontal,
      axisTick: { alignWithLabel: true },
      axisLabel: horizontal ? { width: 260, overflow: 'truncate' } : { interval: 0, width: 150, overflow: 'break', fontSize: 11 }
    };
    var value = { type: 'value', axisLabel: { formatter: function (v) { return format(c.unit, v); } } };
    return {
      animation: false,
      color: palette,
      tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' }, valueFormatter: function (v) { return format(c.unit, v); } },
      legend: several ? { top: 0, type: 'scroll' } : { show: false },
      // The axis labels inside the grid's box (ECharts 6's successor of containLabel).
      grid: { left: 12, right: 24, top: several ? 44 : 14, bottom: 10, outerBoundsMode: 'same', outerBoundsContain: 'axisLabel' },
      xAxis: horizontal ? value : category,
      yAxis: horizontal ? category : value,
      series: c.series.map(function (s) {
        var bar = { name: s.name, type: 'bar', data: s.values, barMaxWidth: 26 };
        if (s.name === 'spend') { bar.itemStyle = { color: '#9aa1ae' }; }
        return bar;
      })
    };
  }

  var drawn = [];
  document.querySelectorAll('[data-chart]').forEach(function (el) {
    var c = data.charts[Number(el.getAttribute('data-chart'))];
    if (c.kind === 'hbar') {
      el.style.height = Math.max(200, 26 * c.categories.length * c.series.length + 70) + 'px';
    } else if (c.kind === 'sankey') {
      el.style.height = Math.max(380, 22 * c.nodes.length / 3 + 200) + 'px';
    }
    var chart = echarts.init(el, null, { renderer: 'svg' });
    chart.setOption(c.kind === 'sankey' ? sankey(c) : bars(c));
    drawn.push(chart);
  });
  window.addEventListener('resize', function () { drawn.forEach(function (d) { d.resize(); }); });
  document.documentElement.setAttribute('data-charts-drawn', String(drawn.length));
})();
