import { BarChart, LineChart, PieChart } from 'echarts/charts';
import { GridComponent, LegendComponent, TooltipComponent } from 'echarts/components';
import * as echarts from 'echarts/core';
import { CanvasRenderer } from 'echarts/renderers';
import { palette } from '../../shell/format';
import { sourceName, t, valueName } from '../../shell/messages';
import type { WallSummary } from './data';

// Only the charts the wall draws, on canvas: ECharts' full build would triple the bundle.
echarts.use([BarChart, LineChart, PieChart, GridComponent, LegendComponent, TooltipComponent, CanvasRenderer]);

/** The wall's ECharts panels. Font sizes follow the screen height, so 3840×2160 reads like 1920×1080 from afar. */
export class WallCharts {
  private readonly charts: Record<'trend' | 'category' | 'source' | 'overdue', echarts.ECharts>;
  private summary: WallSummary | undefined;

  constructor(containers: Record<'trend' | 'category' | 'source' | 'overdue', HTMLElement>) {
    const init = (element: HTMLElement) => echarts.init(element, undefined, { renderer: 'canvas' });
    this.charts = { trend: init(containers.trend), category: init(containers.category), source: init(containers.source), overdue: init(containers.overdue) };
    window.addEventListener('resize', () => {
      for (const chart of Object.values(this.charts)) chart.resize();
      this.render();
    });
  }

  update(summary: WallSummary): void {
    this.summary = summary;
    this.render();
  }

  render(): void {
    const summary = this.summary;
    if (!summary) return;
    // The panels may have been laid out since the charts were made.
    for (const chart of Object.values(this.charts)) chart.resize();
    const scale = window.innerHeight / 1080;
    const font = (px: number) => Math.round(px * scale);
    const axisLabel = { color: palette.muted, fontSize: font(12) };
    const splitLine = { lineStyle: { color: 'rgba(80, 130, 180, 0.15)' } };
    const grid = { left: font(8), right: font(16), top: font(28), bottom: font(6), containLabel: true };
    const noAnimation = { animationDuration: 600, animationDurationUpdate: 600 };

    this.charts.trend.setOption({
      ...noAnimation,
      grid,
      legend: { top: 0, right: 0, textStyle: { color: palette.muted, fontSize: font(12) }, itemWidth: font(14), itemHeight: font(8) },
      xAxis: { type: 'category', data: summary.trend.map((d) => d.day.slice(5)), axisLabel, axisLine: { lineStyle: { color: '#24405e' } } },
      yAxis: { type: 'value', axisLabel, splitLine },
      series: [
        {
          name: t('trendReports'),
          type: 'bar',
          data: summary.trend.map((d) => d.reports),
          barWidth: '45%',
          itemStyle: { color: new echarts.graphic.LinearGradient(0, 0, 0, 1, [{ offset: 0, color: palette.accent }, { offset: 1, color: 'rgba(55,195,255,0.15)' }]) },
        },
        { name: t('trendClosed'), type: 'line', data: summary.trend.map((d) => d.closed), smooth: true, symbolSize: font(6), lineStyle: { color: palette.good, width: font(2) }, itemStyle: { color: palette.good } },
      ],
    });

    const categories = summary.byCategory.slice(0, 8).reverse();
    this.charts.category.setOption({
      ...noAnimation,
      grid: { ...grid, top: font(4) },
      xAxis: { type: 'value', axisLabel: { ...axisLabel, show: false }, splitLine: { show: false } },
      yAxis: { type: 'category', data: categories.map((c) => valueName(c.name)), axisLabel: { ...axisLabel, color: palette.text, fontSize: font(13) }, axisLine: { show: false }, axisTick: { show: false } },
      series: [
        {
          type: 'bar',
          data: categories.map((c) => c.count),
          barWidth: '55%',
          label: { show: true, position: 'right', color: palette.text, fontSize: font(12) },
          itemStyle: { borderRadius: [0, font(3), font(3), 0], color: new echarts.graphic.LinearGradient(0, 0, 1, 0, [{ offset: 0, color: 'rgba(167,139,250,0.25)' }, { offset: 1, color: '#a78bfa' }]) },
        },
      ],
    });

    this.charts.source.setOption({
      ...noAnimation,
      color: [...palette.series],
      legend: { orient: 'vertical', right: 0, top: 'middle', textStyle: { color: palette.text, fontSize: font(13) }, itemWidth: font(12), itemHeight: font(12) },
      series: [
        {
          type: 'pie',
          radius: ['40%', '64%'],
          center: ['38%', '52%'],
          itemStyle: { borderColor: '#061427', borderWidth: font(2) },
          label: { show: true, formatter: '{d}%', color: palette.text, fontSize: font(12) },
          labelLine: { length: font(6), length2: font(6) },
          data: summary.bySource.map((s) => ({ name: sourceName(s.name), value: s.count })),
        },
      ],
    });

    const overdue = summary.mostOverdueGrids.slice().reverse();
    this.charts.overdue.setOption({
      ...noAnimation,
      grid: { ...grid, top: font(4) },
      xAxis: { type: 'value', axisLabel: { ...axisLabel, show: false }, splitLine: { show: false } },
      yAxis: { type: 'category', data: overdue.map((g) => g.name), axisLabel: { ...axisLabel, color: palette.text, fontSize: font(12) }, axisLine: { show: false }, axisTick: { show: false } },
      series: [
        {
          type: 'bar',
          data: overdue.map((g) => g.overdue),
          barWidth: '55%',
          label: { show: true, position: 'right', color: palette.text, fontSize: font(12) },
          itemStyle: { borderRadius: [0, font(3), font(3), 0], color: new echarts.graphic.LinearGradient(0, 0, 1, 0, [{ offset: 0, color: 'rgba(255,90,95,0.2)' }, { offset: 1, color: palette.bad }]) },
        },
      ],
    });
  }
}
